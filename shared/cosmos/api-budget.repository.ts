import type { Container } from '@azure/cosmos';
import { BUDGET_PARTITION, type BudgetDocument, budgetDocumentSchema } from '../dataverse/api-budget.ledger';
import type { BudgetLeaseStore } from '../dataverse/leased.api-budget';
import { CosmosStoreError } from './cosmos.errors';
import { StateDocuments } from './document.operations';

/** The budget document's id for one application user of one organisation: Cosmos ids allow no '/'. */
export const budgetDocumentId = (dataverseUrl: string, clientId: string): string =>
  `api-budget:${clientId}@${new URL(dataverseUrl).host}`.replace(/[/\\?#]/g, '_');

/**
 * The shared Dataverse budget in sync-state (partition `api-budget`): every instance reads it and
 * writes it back only if nobody wrote in between (_etag), so a lease is granted once.
 */
export class ApiBudgetRepository implements BudgetLeaseStore {
  private readonly documents: StateDocuments<BudgetDocument>;

  constructor(
    container: Container,
    readonly id: string,
  ) {
    this.documents = new StateDocuments(container, budgetDocumentSchema);
  }

  read(): Promise<BudgetDocument | undefined> {
    return this.documents.read(this.id, BUDGET_PARTITION, 'Dataverse budget document');
  }

  async write(doc: BudgetDocument, etag: string | undefined): Promise<boolean> {
    const { _etag: _ignored, ...body } = doc;
    try {
      await this.documents.save(body, etag, 'Dataverse budget document', 'budget document changed');
      return true;
    } catch (error) {
      if (error instanceof CosmosStoreError && error.code === 'precondition_failed') return false;
      throw error;
    }
  }
}
