/**
 * Supply-chain checks that run offline (no advisory service, no registry): what package.json pins,
 * what package-lock.json records and where it fetches from, the allow-list of preview production
 * dependencies (docs/dependencies.allowlist.json, explained in docs/dependencies.md), and `npm ls`
 * on the installed tree.
 *
 * Each check is a function of already-parsed files that returns one message per problem (what is
 * wrong, on which package, what to do), so the real files are checked with `toEqual([])` and each
 * rule is also shown to fail on a small synthetic input at the end of this file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const ALLOWLIST_FILE = 'docs/dependencies.allowlist.json';
const DOC_FILE = 'docs/dependencies.md';
const REGISTRY = 'https://registry.npmjs.org/';
const RELOCK = 'run `npm install --package-lock-only` and commit package.json and package-lock.json together';

/**
 * The committed lockfile has no `resolved` fields at all: it was written with npm's
 * `omit-lockfile-registry-resolved=true`, so `npm ci` fetches each tarball from the configured
 * registry and verifies it against the lockfile's sha512 `integrity`. Until the lockfile is
 * regenerated with the URLs in it, a missing `resolved` is accepted for a registry package (exact
 * version, sha512 integrity) and only a `resolved` that points away from registry.npmjs.org fails;
 * the project .npmrc check below covers where the URL-less packages come from. Set this to true
 * once every entry has its `resolved` URL, to require one.
 */
const REQUIRE_RESOLVED = false;

// ---------------------------------------------------------------------------------------------
// File shapes (only the fields the checks read)

type DependencyMap = Record<string, string>;

interface PackageJson {
  dependencies?: DependencyMap;
  devDependencies?: DependencyMap;
  optionalDependencies?: DependencyMap;
  overrides?: Record<string, unknown>;
}

interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  optional?: boolean;
  inBundle?: boolean;
  dependencies?: DependencyMap;
  devDependencies?: DependencyMap;
  optionalDependencies?: DependencyMap;
}

interface Lockfile {
  lockfileVersion?: number;
  packages?: Record<string, LockEntry>;
}

interface AllowListEntry {
  version: string;
  reason: string;
}

interface AllowList {
  about?: string;
  packages: Record<string, AllowListEntry>;
}

/** The subset of `npm ls --json` output the checks read: a tree of nodes with their problems. */
interface NpmLsNode {
  version?: string;
  required?: string;
  missing?: boolean;
  invalid?: string | boolean;
  extraneous?: boolean;
  problems?: string[];
  dependencies?: Record<string, NpmLsNode>;
}

// ---------------------------------------------------------------------------------------------
// Version helpers

/** An exact version as npm writes it (`1.2.3`, `0.2.0-preview`, `1.0.0-beta.41`): no range, tag or URL. */
const EXACT_VERSION =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

const isExactVersion = (spec: string): boolean => EXACT_VERSION.test(spec);

/** Pre-1.0 (0.x.y: no compatibility promise under semver) or a prerelease (`-preview`, `-beta.41`). */
function isPreview(version: string): boolean {
  const match = EXACT_VERSION.exec(version);
  if (match === null) return false;
  const withoutBuild = version.split('+')[0] ?? version;
  return match[1] === '0' || withoutBuild.includes('-');
}

/** `dependencies` and `optionalDependencies`: both are installed in production. */
function productionDependencies(pkg: PackageJson): DependencyMap {
  return { ...pkg.dependencies, ...pkg.optionalDependencies };
}

/** The package name of a lockfile `packages` key (`node_modules/a/node_modules/@s/b` → `@s/b`). */
function lockKeyName(key: string, entry: LockEntry): string {
  if (entry.name !== undefined) return entry.name;
  const at = key.lastIndexOf('node_modules/');
  return at < 0 ? key : key.slice(at + 'node_modules/'.length);
}

/** Where the public registry serves `name@version`'s tarball. */
function registryTarball(name: string, version: string): string {
  const base = name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
  return `${REGISTRY}${name}/-/${base}-${version}.tgz`;
}

const SHA512 = /^sha512-[A-Za-z0-9+/]{86}==$/;

// ---------------------------------------------------------------------------------------------
// The checks

/** The allow-list file's shape: a `packages` map of `{ version, reason }`, nothing else. */
function checkAllowListShape(raw: unknown): string[] {
  const where = ALLOWLIST_FILE;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return [`${where}: must be a JSON object with a "packages" map; see docs/dependencies.md`];
  }
  const problems: string[] = [];
  const top = raw as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (key !== 'about' && key !== 'packages') {
      problems.push(`${where}: unknown top-level key "${key}"; only "about" and "packages" are read`);
    }
  }
  const packages = top.packages;
  if (typeof packages !== 'object' || packages === null || Array.isArray(packages)) {
    return [
      ...problems,
      `${where}: "packages" must be an object mapping a package name to { version, reason }`,
    ];
  }
  for (const [name, entry] of Object.entries(packages as Record<string, unknown>)) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${where}: ${name}: must be { "version": "<exact>", "reason": "<one line>" }`);
      continue;
    }
    const fields = entry as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      if (key !== 'version' && key !== 'reason') {
        problems.push(`${where}: ${name}: unknown key "${key}"; an entry has only "version" and "reason"`);
      }
    }
    if (typeof fields.version !== 'string') {
      problems.push(`${where}: ${name}: "version" must be a string (the exact version in package.json)`);
    }
    if (typeof fields.reason !== 'string') {
      problems.push(`${where}: ${name}: "reason" must be a string saying why this preview is needed`);
    }
  }
  return problems;
}

/**
 * (a) Every production dependency is pinned to an exact version; every pre-1.0 or prerelease one
 * is on the allow-list with that same version and a reason; the allow-list has no other entries.
 */
function checkProductionDependencies(pkg: PackageJson, allow: AllowList): string[] {
  const problems: string[] = [];
  const production = productionDependencies(pkg);
  for (const [name, spec] of Object.entries(production)) {
    if (!isExactVersion(spec)) {
      problems.push(
        `${name}: "${spec}" in package.json is not an exact version; pin it (npm install --save-exact ${name}@<version>) so every install gets the release that was reviewed`,
      );
      continue;
    }
    if (!isPreview(spec)) continue;
    const entry = allow.packages[name];
    if (entry === undefined) {
      problems.push(
        `${name}@${spec} is a pre-1.0 or prerelease production dependency and is not in ${ALLOWLIST_FILE}; use a stable release, or add "${name}": { "version": "${spec}", "reason": "<why>" } there and explain it in ${DOC_FILE}`,
      );
      continue;
    }
    if (entry.version !== spec) {
      problems.push(
        `${name}: ${ALLOWLIST_FILE} accepts ${entry.version} but package.json has ${spec}; review the new release, then update the entry's version and reason (and ${DOC_FILE})`,
      );
    }
    if (entry.reason.trim() === '') {
      problems.push(
        `${name}: the ${ALLOWLIST_FILE} entry has an empty reason; say in one line why this preview is in production`,
      );
    }
  }
  for (const [name, entry] of Object.entries(allow.packages)) {
    const spec = production[name];
    if (spec === undefined) {
      const where = pkg.devDependencies?.[name] !== undefined ? 'is only a devDependency' : 'is gone';
      problems.push(
        `${name}: listed in ${ALLOWLIST_FILE} (${entry.version}) but it ${where}, not a production dependency; remove the stale entry and its section in ${DOC_FILE}`,
      );
    } else if (isExactVersion(spec) && !isPreview(spec)) {
      problems.push(
        `${name}: listed in ${ALLOWLIST_FILE} (${entry.version}) but package.json now has the stable ${spec}; remove the entry and update ${DOC_FILE}`,
      );
    }
  }
  return problems;
}

/** docs/dependencies.md has a line naming each production dependency and its pinned version. */
function checkDocumented(pkg: PackageJson, doc: string): string[] {
  const lines = doc.split('\n');
  return Object.entries(productionDependencies(pkg))
    .filter(
      ([name, spec]) => !lines.some((line) => line.includes(`\`${name}\``) && line.includes(`\`${spec}\``)),
    )
    .map(
      ([name, spec]) =>
        `${name}@${spec}: ${DOC_FILE} has no table row with \`${name}\` and \`${spec}\`; add or update its row (what the app uses it for)`,
    );
}

/** (b) package-lock.json records what package.json asks for, and installs those exact versions. */
function checkLockMatchesManifest(pkg: PackageJson, lock: Lockfile): string[] {
  if (lock.packages === undefined || (lock.lockfileVersion ?? 0) < 2) {
    return [
      `package-lock.json: lockfileVersion ${lock.lockfileVersion} has no "packages" map; regenerate it with npm 7 or later (${RELOCK})`,
    ];
  }
  const problems: string[] = [];
  const root = lock.packages[''] ?? {};
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies'] as const) {
    const wanted = pkg[field] ?? {};
    const locked = root[field] ?? {};
    for (const name of new Set([...Object.keys(wanted), ...Object.keys(locked)])) {
      if (wanted[name] !== locked[name]) {
        problems.push(
          `${name}: package.json ${field} has ${JSON.stringify(wanted[name] ?? null)} but package-lock.json records ${JSON.stringify(locked[name] ?? null)}; ${RELOCK}`,
        );
      }
    }
  }
  const production = productionDependencies(pkg);
  const direct: DependencyMap = { ...pkg.devDependencies, ...production };
  for (const [name, spec] of Object.entries(direct)) {
    const entry = lock.packages[`node_modules/${name}`];
    if (entry === undefined) {
      problems.push(
        `${name}: a direct dependency with no node_modules/${name} entry in package-lock.json; ${RELOCK}`,
      );
      continue;
    }
    if (!isExactVersion(spec)) {
      problems.push(
        `${name}: "${spec}" in package.json is not an exact version, so package-lock.json (${entry.version}) cannot be checked against it; pin it (npm install --save-exact ${name}@${entry.version})`,
      );
    } else if (entry.version !== spec) {
      problems.push(
        `${name}: package.json pins ${spec} but package-lock.json installs ${entry.version}; ${RELOCK}`,
      );
    }
    if (production[name] !== undefined && entry.dev === true) {
      problems.push(
        `${name}: a production dependency that package-lock.json marks "dev", so \`npm ci --omit=dev\` would leave it out; ${RELOCK}`,
      );
    }
  }
  return problems;
}

/**
 * (b) Every package in the lockfile comes from the public registry: a `resolved` URL, when there is
 * one (optional packages included), is that package's tarball on registry.npmjs.org; with
 * `requireResolved`, every non-optional package has one; without it, a package with no URL must at
 * least have a registry version. Every non-optional package has a sha512 `integrity`; nothing is a
 * link to a local folder.
 */
function checkLockSources(lock: Lockfile, options: { requireResolved: boolean }): string[] {
  const problems: string[] = [];
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    if (key === '' || entry.inBundle === true) continue; // the project itself; bundled files come in the parent's tarball
    const name = lockKeyName(key, entry);
    const version = entry.version ?? '';
    const fix = `reinstall it from the public registry (npm install ${name}@<version>) or drop the package`;
    if (entry.link === true) {
      problems.push(
        `${key}: a link to ${entry.resolved ?? 'a local folder'}, not a registry package; ${fix}`,
      );
      continue;
    }
    if (entry.resolved !== undefined) {
      if (!entry.resolved.startsWith(REGISTRY)) {
        problems.push(`${key}: resolved from ${entry.resolved}, not ${REGISTRY}; ${fix}`);
      } else if (entry.resolved !== registryTarball(name, version)) {
        problems.push(
          `${key}: resolved to ${entry.resolved}, which is not the tarball of ${name}@${version} (${registryTarball(name, version)}); ${RELOCK}`,
        );
      }
    } else if (options.requireResolved && entry.optional !== true) {
      problems.push(
        `${key}: no "resolved" URL, so npm ci fetches it from whatever registry is configured; regenerate package-lock.json with --omit-lockfile-registry-resolved=false`,
      );
    } else if (!isExactVersion(version)) {
      problems.push(`${key}: no "resolved" URL and "${version}" is not a registry version; ${fix}`);
    }
    if (entry.optional !== true && !(entry.integrity ?? '').split(/\s+/).some((hash) => SHA512.test(hash))) {
      problems.push(
        `${key}: ${entry.integrity === undefined ? 'no "integrity"' : `integrity "${entry.integrity}" has no sha512 hash`}, so npm ci cannot verify the tarball it downloads; ${RELOCK}`,
      );
    }
  }
  return problems;
}

/** (b) A committed .npmrc must not send installs (including URL-less lockfile entries) elsewhere. */
function checkProjectNpmrc(npmrc: string | undefined): string[] {
  if (npmrc === undefined) return [];
  const problems: string[] = [];
  for (const line of npmrc.split(/\r?\n/)) {
    const match = /^\s*((?:@[^:\s]+:)?registry)\s*=\s*(\S+)\s*$/.exec(line);
    if (match === null) continue;
    const url = (match[2] ?? '').replace(/\/?$/, '/');
    if (url !== REGISTRY) {
      problems.push(
        `.npmrc: ${match[1]}=${match[2]} sends installs away from ${REGISTRY}; remove the line (a private mirror belongs in the CI machine's own npm config)`,
      );
    }
  }
  return problems;
}

/** The (package, version) pairs package.json `overrides` forces, flattened from nested overrides. */
function overriddenVersions(overrides: Record<string, unknown>): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const walk = (node: Record<string, unknown>, owner: string | undefined) => {
    for (const [key, value] of Object.entries(node)) {
      const name = key === '.' ? owner : key.replace(/(.)@.*$/, '$1');
      if (name === undefined) continue;
      if (typeof value === 'string') pairs.push([name, value]);
      else if (typeof value === 'object' && value !== null) walk(value as Record<string, unknown>, name);
    }
  };
  walk(overrides, undefined);
  return pairs;
}

/**
 * (b) An overridden package has exactly one copy in the tree, at the override's version. The one
 * override there is exists for that reason: two copies of @azure/functions-extensions-base are two
 * factory registries, and the puller's SDK binding never resolves (docs/dependencies.md).
 */
function checkOverrides(pkg: PackageJson, lock: Lockfile): string[] {
  const problems: string[] = [];
  for (const [name, spec] of overriddenVersions(pkg.overrides ?? {})) {
    if (spec.startsWith('$')) continue; // a reference to the direct dependency's own version
    const copies = Object.entries(lock.packages ?? {}).filter(
      ([key, entry]) => key !== '' && lockKeyName(key, entry) === name,
    );
    const listed = copies.map(([key, entry]) => `${key}@${entry.version}`).join(', ') || 'none';
    if (!isExactVersion(spec)) {
      problems.push(
        `${name}: package.json overrides it to "${spec}", not an exact version; pin the override`,
      );
    } else if (copies.length !== 1 || copies[0]?.[1].version !== spec) {
      problems.push(
        `${name}: package.json overrides it to ${spec} but package-lock.json has ${copies.length === 1 ? '' : `${copies.length} copies: `}${listed}; the override is there so the app has a single copy at that version (see ${DOC_FILE}); ${RELOCK}, then check \`npm ls ${name}\``,
      );
    }
  }
  return problems;
}

/** (c) Every problem `npm ls --json` reports: its `problems` list and each missing, invalid or extraneous node. */
function npmLsProblems(tree: NpmLsNode & { problems?: string[] }): string[] {
  const found = new Set<string>(tree.problems ?? []);
  const walk = (nodes: Record<string, NpmLsNode> | undefined, parent: string) => {
    for (const [name, node] of Object.entries(nodes ?? {})) {
      for (const problem of node.problems ?? []) found.add(problem);
      if (node.missing === true && (node.problems ?? []).length === 0) {
        found.add(`missing: ${name}@${node.required ?? '?'}, required by ${parent}`);
      }
      if (node.invalid !== undefined && node.invalid !== false && (node.problems ?? []).length === 0) {
        found.add(`invalid: ${name}@${node.version ?? '?'} (${String(node.invalid)})`);
      }
      if (node.extraneous === true && (node.problems ?? []).length === 0) {
        found.add(`extraneous: ${name}@${node.version ?? '?'}`);
      }
      walk(node.dependencies, `${name}@${node.version ?? '?'}`);
    }
  };
  walk(tree.dependencies, 'the project');
  return [...found].map(
    (problem) =>
      `npm ls: ${problem}; run \`npm ci\` to install exactly what package-lock.json records (if it persists, package.json and package-lock.json disagree: ${RELOCK})`,
  );
}

/** Runs `npm ls --all --json --omit=optional` in the repository, offline. */
function runNpmLs(): { problems: string[]; ms: number } {
  const started = Date.now();
  // Under `npm test` npm_execpath is the npm that runs the tests; call it the same way.
  const npmCli = process.env.npm_execpath;
  const [command, prefix] =
    npmCli !== undefined && /npm-cli\.js$/.test(npmCli)
      ? [process.execPath, [npmCli]]
      : [process.platform === 'win32' ? 'npm.cmd' : 'npm', []];
  const result = spawnSync(command, [...prefix, 'ls', '--all', '--json', '--omit=optional'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    maxBuffer: 64 * 1024 * 1024,
    shell: process.platform === 'win32' && prefix.length === 0,
    // ls reads node_modules and package-lock.json only; these keep npm from touching the network.
    env: {
      ...process.env,
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
    },
  });
  const ms = Date.now() - started;
  if (result.error) return { problems: [`npm ls could not run: ${result.error.message}`], ms };
  let tree: NpmLsNode;
  try {
    tree = JSON.parse(result.stdout) as NpmLsNode;
  } catch {
    return { problems: [`npm ls printed no JSON (exit ${result.status}): ${result.stderr.trim()}`], ms };
  }
  const problems = npmLsProblems(tree);
  if (result.status !== 0 && problems.length === 0) {
    problems.push(`npm ls exited ${result.status} without naming a problem: ${result.stderr.trim()}`);
  }
  return { problems, ms };
}

// ---------------------------------------------------------------------------------------------
// The repository's own files

const readJson = (file: string): unknown => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8'));

describe('dependencies (offline supply-chain checks)', () => {
  const pkg = readJson('package.json') as PackageJson;
  const lock = readJson('package-lock.json') as Lockfile;
  const rawAllowList = readJson(ALLOWLIST_FILE);
  const allowList = rawAllowList as AllowList;
  const npmrcPath = path.join(ROOT, '.npmrc');

  it(`${ALLOWLIST_FILE} is well-formed`, () => {
    expect(checkAllowListShape(rawAllowList)).toEqual([]);
  });

  it('every production dependency is pinned, and each pre-1.0 or prerelease one is allowed with its version and a reason', () => {
    expect(checkProductionDependencies(pkg, allowList)).toEqual([]);
  });

  it(`${DOC_FILE} names every production dependency with its pinned version`, () => {
    expect(checkDocumented(pkg, readFileSync(path.join(ROOT, DOC_FILE), 'utf8'))).toEqual([]);
  });

  it('package-lock.json agrees with package.json on every direct dependency and devDependency', () => {
    expect(checkLockMatchesManifest(pkg, lock)).toEqual([]);
  });

  it('every package in package-lock.json comes from registry.npmjs.org with a sha512 integrity', () => {
    expect(checkLockSources(lock, { requireResolved: REQUIRE_RESOLVED })).toEqual([]);
    expect(checkProjectNpmrc(existsSync(npmrcPath) ? readFileSync(npmrcPath, 'utf8') : undefined)).toEqual(
      [],
    );
  });

  it('each overridden package has one copy, at the override version', () => {
    expect(checkOverrides(pkg, lock)).toEqual([]);
  });

  it('the real files fail as soon as a preview dependency loses its allow-list entry or changes version', () => {
    const { '@azure/functions-extensions-servicebus': _removed, ...others } = allowList.packages;
    expect(checkProductionDependencies(pkg, { packages: others })).toEqual([
      expect.stringContaining(
        '@azure/functions-extensions-servicebus@0.2.0-preview is a pre-1.0 or prerelease production dependency and is not in',
      ),
    ]);
    const bumped = { ...pkg, dependencies: { ...pkg.dependencies, 'cli-table3': '0.6.6' } };
    expect(checkProductionDependencies(bumped, allowList)).toEqual([
      expect.stringContaining(
        'cli-table3: docs/dependencies.allowlist.json accepts 0.6.5 but package.json has 0.6.6',
      ),
    ]);
    expect(checkLockMatchesManifest(bumped, lock)).toEqual([
      expect.stringContaining(
        'cli-table3: package.json dependencies has "0.6.6" but package-lock.json records "0.6.5"',
      ),
      expect.stringContaining('cli-table3: package.json pins 0.6.6 but package-lock.json installs 0.6.5'),
    ]);
  });

  it('npm ls --all --omit=optional reports no problem in node_modules', () => {
    const { problems, ms } = runNpmLs();
    expect(problems).toEqual([]);
    // It takes about a second; far more means npm is doing something other than reading the tree.
    expect(ms).toBeLessThan(20_000);
  });
});

// ---------------------------------------------------------------------------------------------
// Each rule fails on an input that breaks it

const INTEGRITY = `sha512-${'A'.repeat(86)}==`;

/** A small consistent project: one stable and one preview production dependency, one devDependency, one override. */
function synthetic(): { pkg: PackageJson; lock: Lockfile; allow: AllowList } {
  const pkg: PackageJson = {
    dependencies: { stable: '2.1.0', '@scope/preview': '0.3.0-beta.2' },
    devDependencies: { tool: '1.0.0' },
    overrides: { '@scope/preview': { shared: '1.4.0' } },
  };
  const entry = (name: string, version: string, extra: Partial<LockEntry> = {}): LockEntry => ({
    version,
    resolved: registryTarball(name, version),
    integrity: INTEGRITY,
    ...extra,
  });
  const lock: Lockfile = {
    lockfileVersion: 3,
    packages: {
      '': { dependencies: { ...pkg.dependencies }, devDependencies: { ...pkg.devDependencies } },
      'node_modules/stable': entry('stable', '2.1.0'),
      'node_modules/@scope/preview': entry('@scope/preview', '0.3.0-beta.2'),
      'node_modules/shared': entry('shared', '1.4.0'),
      'node_modules/tool': entry('tool', '1.0.0', { dev: true }),
      'node_modules/native-linux': { version: '1.0.0', optional: true },
    },
  };
  const allow: AllowList = {
    packages: { '@scope/preview': { version: '0.3.0-beta.2', reason: 'the only client for the thing' } },
  };
  return { pkg, lock, allow };
}

const doc = (pkg: PackageJson) =>
  Object.entries(pkg.dependencies ?? {})
    .map(([name, version]) => `| \`${name}\` | \`${version}\` | what for |`)
    .join('\n');

describe('dependency checks on synthetic inputs', () => {
  it('the synthetic project passes every check, so each failure below comes from its one change', () => {
    const { pkg, lock, allow } = synthetic();
    expect([
      ...checkAllowListShape(allow),
      ...checkProductionDependencies(pkg, allow),
      ...checkDocumented(pkg, doc(pkg)),
      ...checkLockMatchesManifest(pkg, lock),
      ...checkLockSources(lock, { requireResolved: true }),
      ...checkOverrides(pkg, lock),
      ...checkProjectNpmrc('registry=https://registry.npmjs.org\nsave-exact=true\n'),
    ]).toEqual([]);
  });

  it('tells pre-1.0 and prerelease versions from stable ones', () => {
    expect(['0.2.0-preview', '1.0.0-beta.41', '0.217.0', '0.0.1', '2.0.0-rc.1'].map(isPreview)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(['1.0.0', '4.16.5', '10.0.0+build.5', '^0.2.0', 'latest'].map(isPreview)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  describe('(a) production dependencies and the allow-list', () => {
    it.each([
      ['^2.1.0'],
      ['~2.1.0'],
      ['>=2'],
      ['latest'],
      ['*'],
      ['github:someone/stable'],
      ['npm:other@2.1.0'],
    ])('a production dependency on "%s" fails as not pinned', (spec) => {
      const { pkg, allow } = synthetic();
      pkg.dependencies!.stable = spec;
      expect(checkProductionDependencies(pkg, allow)).toEqual([
        expect.stringMatching(/^stable: ".*" in package\.json is not an exact version; pin it/),
      ]);
    });

    it('an optionalDependency counts as production too', () => {
      const { pkg, allow } = synthetic();
      pkg.optionalDependencies = { extra: '^1.0.0' };
      expect(checkProductionDependencies(pkg, allow)).toEqual([
        expect.stringContaining('extra: "^1.0.0" in package.json is not an exact version'),
      ]);
    });

    it('a preview production dependency that is not on the allow-list fails', () => {
      const { pkg, allow } = synthetic();
      pkg.dependencies!.fresh = '0.1.0';
      pkg.dependencies!.beta = '3.0.0-beta.1';
      expect(checkProductionDependencies(pkg, allow)).toEqual([
        expect.stringContaining(
          `fresh@0.1.0 is a pre-1.0 or prerelease production dependency and is not in ${ALLOWLIST_FILE}`,
        ),
        expect.stringContaining(`beta@3.0.0-beta.1 is a pre-1.0 or prerelease production dependency`),
      ]);
    });

    it('a preview devDependency needs no entry', () => {
      const { pkg, allow } = synthetic();
      pkg.devDependencies!['dev-preview'] = '0.0.3';
      expect(checkProductionDependencies(pkg, allow)).toEqual([]);
    });

    it('an allow-list entry for another version fails (a bump must be reviewed)', () => {
      const { pkg, allow } = synthetic();
      pkg.dependencies!['@scope/preview'] = '0.3.0-beta.3';
      expect(checkProductionDependencies(pkg, allow)).toEqual([
        `@scope/preview: ${ALLOWLIST_FILE} accepts 0.3.0-beta.2 but package.json has 0.3.0-beta.3; review the new release, then update the entry's version and reason (and ${DOC_FILE})`,
      ]);
    });

    it('an empty or blank reason fails', () => {
      const { pkg, allow } = synthetic();
      allow.packages['@scope/preview']!.reason = '   ';
      expect(checkProductionDependencies(pkg, allow)).toEqual([
        expect.stringContaining(
          '@scope/preview: the docs/dependencies.allowlist.json entry has an empty reason',
        ),
      ]);
    });

    it('a stale entry fails: the package is gone, only a devDependency, or now stable', () => {
      const { pkg, allow } = synthetic();
      allow.packages.removed = { version: '0.1.0', reason: 'was needed once' };
      allow.packages.tool = { version: '1.0.0', reason: 'dev only' };
      allow.packages.stable = { version: '2.0.0-rc.1', reason: 'was a release candidate' };
      expect(checkProductionDependencies(pkg, allow)).toEqual([
        expect.stringContaining('removed: listed in docs/dependencies.allowlist.json (0.1.0) but it is gone'),
        expect.stringContaining(
          'tool: listed in docs/dependencies.allowlist.json (1.0.0) but it is only a devDependency',
        ),
        expect.stringContaining(
          'stable: listed in docs/dependencies.allowlist.json (2.0.0-rc.1) but package.json now has the stable 2.1.0',
        ),
      ]);
    });

    it('a malformed allow-list fails with what is wrong', () => {
      expect(checkAllowListShape([])).toEqual([expect.stringContaining('must be a JSON object')]);
      expect(checkAllowListShape({ about: 'x' })).toEqual([
        expect.stringContaining('"packages" must be an object'),
      ]);
      expect(
        checkAllowListShape({
          extra: 1,
          packages: { a: 'yes', b: { version: 1, reason: 'r' }, c: { version: '0.1.0', reson: 'typo' } },
        }),
      ).toEqual([
        expect.stringContaining('unknown top-level key "extra"'),
        expect.stringContaining('a: must be { "version"'),
        expect.stringContaining('b: "version" must be a string'),
        expect.stringContaining('c: unknown key "reson"'),
        expect.stringContaining('c: "reason" must be a string'),
      ]);
    });

    it(`${DOC_FILE} without a production dependency, or with its old version, fails`, () => {
      const { pkg } = synthetic();
      const text = doc(pkg);
      pkg.dependencies!.stable = '2.2.0';
      pkg.dependencies!.added = '1.0.0';
      expect(checkDocumented(pkg, text)).toEqual([
        expect.stringContaining(
          'stable@2.2.0: docs/dependencies.md has no table row with `stable` and `2.2.0`',
        ),
        expect.stringContaining('added@1.0.0: docs/dependencies.md has no table row'),
      ]);
    });
  });

  describe('(b) package-lock.json', () => {
    it('a lockfile without a packages map (npm 6) fails', () => {
      const { pkg } = synthetic();
      expect(checkLockMatchesManifest(pkg, { lockfileVersion: 1 })).toEqual([
        expect.stringContaining('lockfileVersion 1 has no "packages" map'),
      ]);
    });

    it('a lockfile whose root disagrees with package.json fails, in both directions', () => {
      const { pkg, lock } = synthetic();
      lock.packages![''] = {
        dependencies: { stable: '2.0.0', '@scope/preview': '0.3.0-beta.2', gone: '1.0.0' },
      };
      expect(checkLockMatchesManifest(pkg, lock)).toEqual([
        expect.stringContaining(
          'stable: package.json dependencies has "2.1.0" but package-lock.json records "2.0.0"',
        ),
        expect.stringContaining(
          'gone: package.json dependencies has null but package-lock.json records "1.0.0"',
        ),
        expect.stringContaining(
          'tool: package.json devDependencies has "1.0.0" but package-lock.json records null',
        ),
      ]);
    });

    it('a direct dependency or devDependency installed at another version, or not at all, fails', () => {
      const { pkg, lock } = synthetic();
      lock.packages!['node_modules/stable']!.version = '2.1.1';
      delete lock.packages!['node_modules/tool'];
      expect(checkLockMatchesManifest(pkg, lock)).toEqual([
        expect.stringContaining(
          'tool: a direct dependency with no node_modules/tool entry in package-lock.json',
        ),
        `stable: package.json pins 2.1.0 but package-lock.json installs 2.1.1; ${RELOCK}`,
      ]);
    });

    it('a devDependency on a range fails (the lockfile cannot be compared with it)', () => {
      const { pkg, lock } = synthetic();
      pkg.devDependencies!.tool = '^1.0.0';
      lock.packages![''] = { ...lock.packages![''], devDependencies: { tool: '^1.0.0' } };
      expect(checkLockMatchesManifest(pkg, lock)).toEqual([
        expect.stringContaining(
          'tool: "^1.0.0" in package.json is not an exact version, so package-lock.json (1.0.0) cannot be checked',
        ),
      ]);
    });

    it('a production dependency the lockfile marks dev fails', () => {
      const { pkg, lock } = synthetic();
      lock.packages!['node_modules/stable']!.dev = true;
      expect(checkLockMatchesManifest(pkg, lock)).toEqual([
        expect.stringContaining('stable: a production dependency that package-lock.json marks "dev"'),
      ]);
    });

    it('a lockfile pointing at another registry or host fails, optional packages included', () => {
      const { lock } = synthetic();
      lock.packages!['node_modules/stable']!.resolved = 'https://evil.example.com/stable/-/stable-2.1.0.tgz';
      lock.packages!['node_modules/native-linux']!.resolved =
        'http://registry.npmjs.org/native-linux/-/native-linux-1.0.0.tgz';
      expect(checkLockSources(lock, { requireResolved: false })).toEqual([
        expect.stringContaining(
          'node_modules/stable: resolved from https://evil.example.com/stable/-/stable-2.1.0.tgz, not https://registry.npmjs.org/',
        ),
        expect.stringContaining('node_modules/native-linux: resolved from http://registry.npmjs.org/'),
      ]);
    });

    it("a registry URL that is not the package's own tarball fails", () => {
      const { lock } = synthetic();
      lock.packages!['node_modules/@scope/preview']!.resolved = registryTarball('other', '9.9.9');
      expect(checkLockSources(lock, { requireResolved: false })).toEqual([
        expect.stringContaining(
          'node_modules/@scope/preview: resolved to https://registry.npmjs.org/other/-/other-9.9.9.tgz, which is not the tarball of @scope/preview@0.3.0-beta.2 (https://registry.npmjs.org/@scope/preview/-/preview-0.3.0-beta.2.tgz)',
        ),
      ]);
    });

    it('git, tarball and local-folder sources fail', () => {
      const { lock } = synthetic();
      lock.packages!['node_modules/from-git'] = {
        version: '1.0.0',
        resolved: 'git+ssh://git@github.com/someone/from-git.git#0123abc',
        integrity: INTEGRITY,
      };
      lock.packages!['node_modules/from-tarball'] = {
        version: '1.0.0',
        resolved: 'https://codeload.github.com/someone/from-tarball/tar.gz/0123abc',
        integrity: INTEGRITY,
      };
      lock.packages!['node_modules/from-folder'] = { resolved: '../vendor/from-folder', link: true };
      expect(checkLockSources(lock, { requireResolved: false })).toEqual([
        expect.stringContaining('node_modules/from-git: resolved from git+ssh://'),
        expect.stringContaining('node_modules/from-tarball: resolved from https://codeload.github.com/'),
        expect.stringContaining(
          'node_modules/from-folder: a link to ../vendor/from-folder, not a registry package',
        ),
      ]);
    });

    it('a missing resolved URL fails when required; otherwise only for a non-registry version', () => {
      const { lock } = synthetic();
      delete lock.packages!['node_modules/stable']!.resolved;
      expect(checkLockSources(lock, { requireResolved: true })).toEqual([
        expect.stringContaining(
          'node_modules/stable: no "resolved" URL, so npm ci fetches it from whatever registry is configured',
        ),
      ]);
      expect(checkLockSources(lock, { requireResolved: false })).toEqual([]);
      lock.packages!['node_modules/stable']!.version = 'file:../stable';
      expect(checkLockSources(lock, { requireResolved: false })).toEqual([
        expect.stringContaining(
          'node_modules/stable: no "resolved" URL and "file:../stable" is not a registry version',
        ),
      ]);
    });

    it('a package without a sha512 integrity fails unless it is optional or bundled', () => {
      const { lock } = synthetic();
      delete lock.packages!['node_modules/stable']!.integrity;
      lock.packages!['node_modules/shared']!.integrity = 'sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=';
      lock.packages!['node_modules/stable/node_modules/inner'] = { version: '1.0.0', inBundle: true };
      expect(checkLockSources(lock, { requireResolved: false })).toEqual([
        expect.stringContaining('node_modules/stable: no "integrity", so npm ci cannot verify the tarball'),
        expect.stringContaining(
          'node_modules/shared: integrity "sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=" has no sha512 hash',
        ),
      ]);
    });

    it('a project .npmrc that points installs at another registry fails', () => {
      expect(
        checkProjectNpmrc(
          'registry=https://mirror.example.com/npm/\n@scope:registry = https://npm.pkg.github.com\n',
        ),
      ).toEqual([
        expect.stringContaining('.npmrc: registry=https://mirror.example.com/npm/ sends installs away'),
        expect.stringContaining('.npmrc: @scope:registry=https://npm.pkg.github.com sends installs away'),
      ]);
    });

    it('an override that left a second copy, or a copy at another version, fails', () => {
      const { pkg, lock } = synthetic();
      lock.packages!['node_modules/@scope/preview/node_modules/shared'] = {
        version: '1.3.0',
        resolved: registryTarball('shared', '1.3.0'),
        integrity: INTEGRITY,
      };
      expect(checkOverrides(pkg, lock)).toEqual([
        expect.stringContaining(
          'shared: package.json overrides it to 1.4.0 but package-lock.json has 2 copies: node_modules/shared@1.4.0, node_modules/@scope/preview/node_modules/shared@1.3.0',
        ),
      ]);
      delete lock.packages!['node_modules/@scope/preview/node_modules/shared'];
      lock.packages!['node_modules/shared']!.version = '1.3.0';
      expect(checkOverrides(pkg, lock)).toEqual([
        expect.stringContaining(
          'shared: package.json overrides it to 1.4.0 but package-lock.json has node_modules/shared@1.3.0',
        ),
      ]);
    });

    it('reads nested, global and "." overrides', () => {
      expect(
        overriddenVersions({ a: '1.0.0', 'b@^2': { '.': '2.1.0', c: { d: '3.0.0' } }, e: '$e' }),
      ).toEqual([
        ['a', '1.0.0'],
        ['b', '2.1.0'],
        ['d', '3.0.0'],
        ['e', '$e'],
      ]);
    });
  });

  describe('(c) npm ls', () => {
    it('lists every problem of a broken tree (real npm ls --json output in tests/fixtures/dependencies)', () => {
      const tree = JSON.parse(
        readFileSync(path.join(ROOT, 'tests/fixtures/dependencies/npm-ls-problems.json'), 'utf8'),
      ) as NpmLsNode;
      expect(npmLsProblems(tree)).toEqual([
        expect.stringContaining(
          'npm ls: invalid: is-number@6.0.0 /project/node_modules/is-number; run `npm ci`',
        ),
        expect.stringContaining(
          'npm ls: missing: left-pad@1.3.0, required by broken-tree@1.0.0; run `npm ci`',
        ),
        expect.stringContaining(
          'npm ls: extraneous: stray-pkg@0.1.0 /project/node_modules/stray-pkg; run `npm ci`',
        ),
      ]);
    });

    it('flags missing, invalid and extraneous nodes deep in the tree even without a problems list', () => {
      expect(
        npmLsProblems({
          dependencies: {
            a: {
              version: '1.0.0',
              dependencies: {
                b: { required: '^2.0.0', missing: true },
                c: { version: '1.0.0', invalid: '"^2.0.0" from a@1.0.0' },
              },
            },
            d: { version: '0.1.0', extraneous: true },
            e: { version: '1.0.0' },
          },
        }).map((message) => message.split(';')[0]),
      ).toEqual([
        'npm ls: missing: b@^2.0.0, required by a@1.0.0',
        'npm ls: invalid: c@1.0.0 ("^2.0.0" from a@1.0.0)',
        'npm ls: extraneous: d@0.1.0',
      ]);
    });
  });
});
