import type { OrganizationIdentity } from '../sync/ports';
import type { DataverseClient } from './dataverse.client';

/** The organisation id from WhoAmI: one small request, made once per pull job. */
export class WhoAmIOrganization implements OrganizationIdentity {
  constructor(private readonly client: Pick<DataverseClient, 'whoAmI'>) {}

  async organizationId(): Promise<string> {
    return (await this.client.whoAmI()).OrganizationId.toLowerCase();
  }
}
