import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { AlbSyncPropsError } from './binding';

/**
 * The function binaries (crates/albsync-functions/src/bin), see docs/architecture.md: the workflow's four and
 * `albsync-trigger` (the event path, AlbSyncEvents; created only when the interface events are on).
 */
export const FUNCTION_BINARIES = ['albsync-resolve', 'albsync-diff', 'albsync-register', 'albsync-deregister', 'albsync-trigger'] as const;
export type FunctionBinary = (typeof FUNCTION_BINARIES)[number];
/** The four binaries the state machine invokes. */
export type WorkflowBinary = Exclude<FunctionBinary, 'albsync-trigger'>;

/** The repository's workspace manifest, relative to this file (cdk/lib/ or cdk/dist/lib/ both work). */
export function defaultManifestPath(): string {
  for (const rel of ['../../Cargo.toml', '../../../Cargo.toml']) {
    const p = path.resolve(__dirname, rel);
    if (fs.existsSync(p)) return p;
  }
  return path.resolve(__dirname, '../../Cargo.toml');
}

/** Everything a code source needs besides the binary name to create one function. */
export type FunctionSettings = Omit<lambda.FunctionProps, 'code' | 'runtime' | 'handler' | 'architecture'>;

/**
 * Where the four functions' code comes from.
 *
 * - `FunctionCode.cargoLambda()` (the default): `RustFunction` from cargo-lambda-cdk runs
 *   `cargo lambda build --release --arm64 --bin <name>` on the workspace at synthesis time (needs cargo-lambda on
 *   the PATH; without it cargo-lambda-cdk falls back to Docker).
 * - `FunctionCode.prebuilt(dir)`: the output of `cargo lambda build --release --arm64` already on disk,
 *   `dir/<binary>/bootstrap` for each binary (normally `target/lambda`). Nothing is compiled at synthesis time;
 *   CI builds once and synthesizes with those binaries.
 */
export abstract class FunctionCode {
  /** Build with cargo-lambda from the Cargo workspace at `manifestPath` (default: the repository root). */
  public static cargoLambda(options: { manifestPath?: string } = {}): FunctionCode {
    return new CargoLambdaCode(options.manifestPath ?? defaultManifestPath());
  }

  /** Use prebuilt bootstraps: `dir/<binary>/bootstrap`, as `cargo lambda build --release --arm64` lays them out. */
  public static prebuilt(dir: string): FunctionCode {
    return new PrebuiltCode(dir);
  }

  /** Creates the function for `binary`. */
  public abstract createFunction(scope: Construct, id: string, binary: FunctionBinary, settings: FunctionSettings): lambda.Function;
}

class CargoLambdaCode extends FunctionCode {
  constructor(private readonly manifestPath: string) {
    super();
  }

  public createFunction(scope: Construct, id: string, binary: FunctionBinary, settings: FunctionSettings): lambda.Function {
    if (!fs.existsSync(this.manifestPath)) {
      throw new AlbSyncPropsError('code', `Cargo manifest ${this.manifestPath} does not exist`);
    }
    return new RustFunction(scope, id, {
      ...settings,
      manifestPath: this.manifestPath,
      binaryName: binary,
      runtime: 'provided.al2023',
      bundling: { architecture: lambda.Architecture.ARM_64 },
    });
  }
}

class PrebuiltCode extends FunctionCode {
  constructor(private readonly dir: string) {
    super();
  }

  public createFunction(scope: Construct, id: string, binary: FunctionBinary, settings: FunctionSettings): lambda.Function {
    const binDir = path.resolve(this.dir, binary);
    if (!fs.existsSync(path.join(binDir, 'bootstrap'))) {
      throw new AlbSyncPropsError(
        'code',
        `prebuilt bootstrap ${path.join(binDir, 'bootstrap')} does not exist (run \`cargo lambda build --release --arm64\`)`,
      );
    }
    return new lambda.Function(scope, id, {
      ...settings,
      code: lambda.Code.fromAsset(binDir),
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
    });
  }
}
