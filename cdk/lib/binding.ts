import * as net from 'node:net';
import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';

/** Address family a binding resolves (A or AAAA records) and registers. */
export enum AddressFamily {
  /** A records, IPv4 targets. */
  IPV4 = 'ipv4',
  /** AAAA records, IPv6 targets. */
  IPV6 = 'ipv6',
}

/** How hard the resolve function looks for addresses in one run (see docs/architecture.md). */
export interface LookupProps {
  /**
   * Query budget for one run, including retries of failed queries. 1-2000.
   * @default 200
   */
  readonly maxQueries?: number;
  /**
   * Sampling stops once every expected address was seen and this many answers in a row brought nothing new. 1-200.
   * @default 10
   */
  readonly settleQueries?: number;
  /**
   * Timeout of one DNS query in milliseconds. 50-30000, and two queries plus 1 s margin must fit in the
   * resolve function's 50 s timeout (so at most 24500).
   * @default 2000
   */
  readonly timeoutMs?: number;
  /**
   * Whom the resolver asks: the configured resolver, or the zone's authoritative name servers (fresh answers,
   * needs a route to them).
   * @default LookupMode.RESOLVER
   */
  readonly mode?: LookupMode;
  /**
   * How many LookAgain passes one execution may make after the first resolve. 0-3.
   * @default 1
   */
  readonly lookAgain?: number;
}

/** Whom the resolve function asks (crates/albsync-core `LookupMode`). */
export enum LookupMode {
  /** The configured resolver (in a VPC, the VPC resolver, which caches for the TTL). */
  RESOLVER = 'resolver',
  /** The name's zone's authoritative name servers, asked directly. */
  AUTHORITATIVE = 'authoritative',
}

/**
 * The ALB's network interfaces as a second source of addresses (same-account ALBs). Give `loadBalancerArn`, or
 * `loadBalancerName` and `loadBalancerId`.
 */
export interface BindingEniSource {
  /** `arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID`. */
  readonly loadBalancerArn?: string;
  /** The `NAME` of `app/NAME/ID`. */
  readonly loadBalancerName?: string;
  /** The `ID` of `app/NAME/ID` (hex digits). */
  readonly loadBalancerId?: string;
  /**
   * Register an in-use interface's address before DNS answers it.
   * @default - the Rust default (crates/albsync-core/src/eni.rs)
   */
  readonly registerEarly?: boolean;
}

/**
 * One thing to keep in sync: a DNS name (usually an internal ALB's) and the NLB IP target group whose targets
 * must equal the name's addresses on one port. Each binding gets its own schedule, its own state document and
 * its own `ResolvedAddressCount` alarm.
 */
export interface BindingProps {
  /**
   * Short name of the binding: metric dimension `Binding`, schedule name, CLI argument.
   * 1-48 characters of `a-z`, `0-9` and `-`; unique among the bindings of one AlbSync.
   */
  readonly name: string;
  /**
   * The DNS name to resolve (a token is fine). Give exactly one of `dnsName`, `alb` and `albArn`.
   * @default - the DNS name of `alb` or `albArn`
   */
  readonly dnsName?: string;
  /**
   * The ALB whose addresses to keep: a construct in your app, or one imported with
   * `ApplicationLoadBalancer.fromApplicationLoadBalancerAttributes` (its `loadBalancerDnsName` is resolved).
   * @default - `dnsName` or `albArn`
   */
  readonly alb?: elbv2.IApplicationLoadBalancer;
  /**
   * ARN of an existing ALB. Its DNS name is looked up at synthesis (`ApplicationLoadBalancer.fromLookup`: needs
   * credentials and an explicit stack `env` once; the answer is cached in cdk.context.json).
   * @default - `dnsName` or `alb`
   */
  readonly albArn?: string;
  /** Port the targets are registered on (the ALB listener's port), 1-65535. */
  readonly port: number;
  /**
   * ARN of the NLB's IP target group: `arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID`
   * (a token is fine). RegisterTargets/DeregisterTargets are granted on exactly this ARN.
   */
  readonly targetGroupArn?: string;
  /**
   * The NLB's IP target group as a construct (your own or imported with
   * `NetworkTargetGroup.fromTargetGroupAttributes`). Give exactly one of `targetGroupArn` and `targetGroup`.
   * @default - `targetGroupArn`
   */
  readonly targetGroup?: elbv2.INetworkTargetGroup;
  /**
   * Consecutive runs an address must be missing from DNS before it is deregistered. 1-1000.
   * @default 3
   */
  readonly graceRuns?: number;
  /**
   * Resolved addresses must lie in one of these CIDR blocks; anything else fails the run with
   * `Albsync.ForeignAddress`. Must not be empty. Required for ipv6: an ALB's IPv6 addresses are global
   * unicast addresses from the VPC's own IPv6 CIDRs, which no built-in range can know.
   * @default - ipv4: the ranges an NLB accepts as IP targets: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
   * 100.64.0.0/10
   */
  readonly allowedCidrs?: string[];
  /**
   * CIDR blocks of the target group's VPC. Addresses outside them are registered with `AvailabilityZone: all`
   * (peered VPC, Transit Gateway). An empty list registers every address with `all`. A token (e.g.
   * `vpc.vpcCidrBlock`) is fine. Give `vpcCidrs`, `vpc`, or both (the blocks are joined: list secondary CIDR
   * blocks of the VPC here, `IVpc` exposes only the primary one).
   * @default - the CIDR block of `vpc`
   */
  readonly vpcCidrs?: string[];
  /**
   * The target group's VPC: its primary CIDR block becomes part of `vpcCidrs`, so addresses inside it are never
   * registered with zone `all` by mistake.
   * @default - `vpcCidrs` only
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Address family to resolve and register.
   * @default AddressFamily.IPV4
   */
  readonly family?: AddressFamily;
  /**
   * Resolver limits.
   * @default - { maxQueries: 200, settleQueries: 10, timeoutMs: 2000 }
   */
  readonly lookup?: LookupProps;
  /**
   * Explicit cap on deregistrations per run, 1-1000.
   * @default - half of the registered targets, at least one, never the last one
   */
  readonly maxDeregistrationsPerRun?: number;
  /**
   * Length of a schedule slot in seconds, 1-3600: grace is counted at most once per slot.
   * @default - the schedule interval (at most 3600)
   */
  readonly slotSeconds?: number;
  /**
   * An address is removed only when it was first missed at least this long ago (as well as `graceRuns` looks).
   * 1-604800.
   * @default - graceRuns x slotSeconds
   */
  readonly graceSeconds?: number;
  /**
   * The ALB's network interfaces as a second source (same-account ALBs). The diff function gets
   * ec2:DescribeNetworkInterfaces.
   * @default - DNS only
   */
  readonly eni?: BindingEniSource;
  /**
   * A target group in another account: a role of that account (`arn:aws:iam::ACCOUNT:role/NAME`, the target
   * group's account) that diff, register and deregister assume for their ELB calls. The construct grants
   * sts:AssumeRole on exactly these roles; the role's trust policy must name the functions' roles (README,
   * "Target groups in another account").
   * @default - the functions' own role (same-account target group)
   */
  readonly roleArn?: string;
}

/** The execution input of the state machine for one binding, exactly as docs/architecture.md specifies it. */
export interface ExecutionInput {
  readonly name: string;
  readonly dnsName: string;
  readonly port: number;
  readonly targetGroupArn: string;
  readonly graceRuns: number;
  readonly allowedCidrs: string[];
  readonly vpcCidrs: string[];
  readonly family: 'ipv4' | 'ipv6';
  readonly lookup: {
    readonly maxQueries: number;
    readonly settleQueries: number;
    readonly timeoutMs: number;
    readonly mode: 'resolver' | 'authoritative';
    readonly lookAgain: number;
  };
  readonly maxDeregistrationsPerRun: number | null;
  readonly slotSeconds: number;
  /** Omitted: the functions derive graceRuns x slotSeconds. */
  readonly graceSeconds?: number;
  readonly eni?: BindingEniSource;
  readonly roleArn?: string;
}

/** Defaults, mirrored from crates/albsync-core/src/binding.rs. */
export const DEFAULT_GRACE_RUNS = 3;
export const DEFAULT_ALLOWED_CIDRS: Record<AddressFamily, readonly string[]> = {
  [AddressFamily.IPV4]: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'],
  [AddressFamily.IPV6]: [],
};
export const DEFAULT_LOOKUP = { maxQueries: 200, settleQueries: 10, timeoutMs: 2000, mode: LookupMode.RESOLVER, lookAgain: 1 } as const;
export const DEFAULT_SLOT_SECONDS = 60;
export const MAX_SLOT_SECONDS = 3600;
/** The resolve function's timeout (functions.ts sets 50 s) and what one invocation keeps back for returning. */
export const RESOLVE_FUNCTION_TIMEOUT_MS = 50_000;
export const RESOLVE_MARGIN_MS = 1_000;

const NAME_RE = /^[a-z0-9-]{1,48}$/;
// IAM role ARNs: role names 1-64 of A-Za-z0-9+=,.@_-, after an optional path
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html), as crates/albsync-core checks them.
const ROLE_ARN_RE = /^arn:aws[^:]*:iam::(\d{12}):role\/(?:[\x21-\x7e]*\/)?[A-Za-z0-9+=,.@_-]{1,64}$/;
const TG_ARN_RE = /^arn:aws[^:]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-fA-F]+$/;

/** A prop validation failure: the message names the prop path (e.g. `bindings[1].port`). */
export class AlbSyncPropsError extends Error {
  constructor(prop: string, problem: string) {
    super(`AlbSync: invalid prop \`${prop}\`: ${problem}`);
    this.name = 'AlbSyncPropsError';
  }
}

function isInt(v: number): boolean {
  return typeof v === 'number' && Number.isInteger(v);
}

function checkRange(prop: string, v: number | undefined, lo: number, hi: number): void {
  if (v === undefined || Token.isUnresolved(v)) return;
  if (!isInt(v) || v < lo || v > hi) {
    throw new AlbSyncPropsError(prop, `${v} is out of range ${lo}..=${hi}`);
  }
}

/** Parses `a.b.c.d/n` or an IPv6 CIDR; returns the family and whether host bits are clear, or undefined. */
export function parseCidr(text: string): { family: AddressFamily; canonical: boolean } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const [, addr, lenText] = m;
  const len = Number(lenText);
  if (net.isIPv4(addr)) {
    if (len > 32) return undefined;
    const value = addr.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
    const hostBits = 32 - len;
    return { family: AddressFamily.IPV4, canonical: (value & ((1n << BigInt(hostBits)) - 1n)) === 0n };
  }
  if (net.isIPv6(addr) && !addr.includes('.')) {
    if (len > 128) return undefined;
    const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
    const headParts = head ? head.split(':') : [];
    const tailParts = tail ? tail.split(':') : [];
    const missing = 8 - headParts.length - tailParts.length;
    const groups = [...headParts, ...Array(tail === undefined ? 0 : missing).fill('0'), ...tailParts];
    const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
    const hostBits = 128 - len;
    return { family: AddressFamily.IPV6, canonical: (value & ((1n << BigInt(hostBits)) - 1n)) === 0n };
  }
  return undefined;
}

// Like crates/albsync-core (parse_cidrs), a block of the other family is not refused: it can never match an
// address of the binding's family (Binding::allows checks the family first), so it is inert, not dangerous.
function checkCidrs(prop: string, list: readonly string[], firstIndex = 0): void {
  list.forEach((c, j) => {
    const i = j + firstIndex;
    if (Token.isUnresolved(c)) return;
    const parsed = parseCidr(c);
    if (!parsed) throw new AlbSyncPropsError(`${prop}[${i}]`, `${JSON.stringify(c)} is not a CIDR block`);
    if (!parsed.canonical) throw new AlbSyncPropsError(`${prop}[${i}]`, `${JSON.stringify(c)} has host bits set`);
  });
}

function checkDnsName(prop: string, name: string): void {
  if (Token.isUnresolved(name)) return;
  const n = name.replace(/\.$/, '').toLowerCase();
  const ok =
    n.length > 0 &&
    n.length <= 253 &&
    n.split('.').every((l) => l.length > 0 && l.length <= 63 && /^[a-z0-9_-]+$/.test(l) && !l.startsWith('-') && !l.endsWith('-'));
  if (!ok) throw new AlbSyncPropsError(prop, `${JSON.stringify(name)} is not a DNS name`);
}

// The resolver stops at the invocation's deadline, so the query budget may exceed it; but one `all.` query and
// one plain query must fit, or every run against a slow server ends in a timeout (crates/albsync-core binding.rs).
function checkTimeoutFits(prop: string, timeoutMs: number): void {
  if (Token.isUnresolved(timeoutMs)) return;
  const needed = timeoutMs * 2 + RESOLVE_MARGIN_MS;
  if (needed > RESOLVE_FUNCTION_TIMEOUT_MS) {
    throw new AlbSyncPropsError(
      prop,
      `${timeoutMs} ms cannot fit: 2 queries (all. and the plain name) of up to ${timeoutMs} ms plus ${RESOLVE_MARGIN_MS} ms margin ` +
        `need ${needed} ms, more than the resolve function's timeout of ${RESOLVE_FUNCTION_TIMEOUT_MS} ms`,
    );
  }
}

// ALB names: up to 32 alphanumerics or hyphens, not starting or ending with a hyphen
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html).
function checkAlbName(prop: string, name: string): void {
  if (Token.isUnresolved(name)) return;
  if (!/^[A-Za-z0-9-]{1,32}$/.test(name) || name.startsWith('-') || name.endsWith('-')) {
    throw new AlbSyncPropsError(prop, `${JSON.stringify(name)} is not a load balancer name`);
  }
}

function checkAlbId(prop: string, id: string): void {
  if (Token.isUnresolved(id)) return;
  if (!/^[0-9A-Fa-f]{1,32}$/.test(id)) throw new AlbSyncPropsError(prop, `${JSON.stringify(id)} is not a load balancer id (hex digits)`);
}

/** The `eni` source, exactly as crates/albsync-core/src/eni.rs checks it. */
function checkEni(prop: string, eni: BindingEniSource): void {
  const { loadBalancerArn: arn, loadBalancerName: name, loadBalancerId: id } = eni;
  if (arn !== undefined && name === undefined && id === undefined) {
    if (Token.isUnresolved(arn)) return;
    const bad = (why: string) => new AlbSyncPropsError(`${prop}.loadBalancerArn`, `${JSON.stringify(arn)} is not an ALB ARN: ${why}`);
    const parts = arn.split(':');
    const head = parts.slice(0, 5);
    const resourceText = parts.slice(5).join(':');
    if (parts.length < 6 || head[0] !== 'arn' || !head[1].startsWith('aws') || head[2] !== 'elasticloadbalancing') {
      throw bad('expected arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID');
    }
    const resource = resourceText.split('/');
    if (resource.length !== 4 || resource[0] !== 'loadbalancer' || resource[1] !== 'app') {
      throw bad('resource is not loadbalancer/app/NAME/ID (only ALBs have this description)');
    }
    checkAlbName(`${prop}.loadBalancerArn`, resource[2]);
    checkAlbId(`${prop}.loadBalancerArn`, resource[3]);
  } else if (arn === undefined && name !== undefined && id !== undefined) {
    checkAlbName(`${prop}.loadBalancerName`, name);
    checkAlbId(`${prop}.loadBalancerId`, id);
  } else {
    throw new AlbSyncPropsError(prop, 'give either loadBalancerArn, or loadBalancerName and loadBalancerId');
  }
  if (eni.registerEarly !== undefined && typeof eni.registerEarly !== 'boolean') {
    throw new AlbSyncPropsError(`${prop}.registerEarly`, `${JSON.stringify(eni.registerEarly)} must be true or false`);
  }
}

/**
 * A role of the target group's account: ELB has no resource-based policies, so only that account's credentials
 * can change its target group (https://docs.aws.amazon.com/IAM/latest/UserGuide/tutorial_cross-account-with-roles.html).
 */
function checkRoleArn(prop: string, role: string, targetGroupArn: string): void {
  if (Token.isUnresolved(role)) return;
  const m = typeof role === 'string' ? ROLE_ARN_RE.exec(role) : null;
  if (!m) throw new AlbSyncPropsError(prop, `${JSON.stringify(role)} is not an IAM role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)`);
  if (Token.isUnresolved(targetGroupArn)) return;
  const tgAccount = targetGroupArn.split(':')[4];
  if (m[1] !== tgAccount) {
    throw new AlbSyncPropsError(
      prop,
      `${JSON.stringify(role)} is in account ${m[1]}, the target group in ${tgAccount}: the role must be in the target group's account`,
    );
  }
}

/**
 * A binding with its sources resolved to the three strings the execution input needs (`dnsName`,
 * `targetGroupArn`, `vpcCidrs`); `alb`, `albArn`, `targetGroup` and `vpc` are gone.
 */
export interface ResolvedBindingProps extends BindingProps {
  readonly dnsName: string;
  readonly targetGroupArn: string;
  readonly vpcCidrs: string[];
  /**
   * How many leading `vpcCidrs` came from `vpc` (AWS guarantees a VPC's block is valid). They are not checked:
   * before `Vpc.fromLookup` has run, CDK answers a placeholder block, and a refusal would stop the lookup.
   */
  readonly vpcCidrsFromVpc?: number;
}

/**
 * Resolves each binding's ALB, target group and VPC into strings (tokens are fine), checking that each source is
 * given exactly once. `scope` hosts the ALB lookups of `albArn`.
 */
export function resolveBindings(scope: Construct, bindings: readonly BindingProps[] | undefined): ResolvedBindingProps[] {
  if (!bindings || bindings.length === 0) {
    throw new AlbSyncPropsError('bindings', 'at least one binding is required');
  }
  return bindings.map((b, i) => {
    const p = `bindings[${i}]`;
    const dnsSources = [b.dnsName !== undefined, b.alb !== undefined, b.albArn !== undefined].filter(Boolean).length;
    if (dnsSources !== 1) {
      throw new AlbSyncPropsError(p, `give exactly one of dnsName, alb and albArn (got ${dnsSources})`);
    }
    let dnsName = b.dnsName;
    if (b.alb) dnsName = b.alb.loadBalancerDnsName;
    if (b.albArn !== undefined) {
      if (!Token.isUnresolved(b.albArn) && !/^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer\/app\/[A-Za-z0-9-]{1,32}\/[0-9a-f]+$/.test(b.albArn)) {
        throw new AlbSyncPropsError(`${p}.albArn`, `${JSON.stringify(b.albArn)} is not an ALB ARN (arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID)`);
      }
      const id = `AlbLookup-${b.name}`;
      const found = scope.node.tryFindChild(id) as elbv2.IApplicationLoadBalancer | undefined;
      dnsName = (found ?? elbv2.ApplicationLoadBalancer.fromLookup(scope, id, { loadBalancerArn: b.albArn })).loadBalancerDnsName;
    }
    const tgSources = [b.targetGroupArn !== undefined, b.targetGroup !== undefined].filter(Boolean).length;
    if (tgSources !== 1) {
      throw new AlbSyncPropsError(p, `give exactly one of targetGroupArn and targetGroup (got ${tgSources})`);
    }
    const targetGroupArn = b.targetGroup ? b.targetGroup.targetGroupArn : b.targetGroupArn!;
    if (b.vpcCidrs !== undefined && !Array.isArray(b.vpcCidrs)) {
      throw new AlbSyncPropsError(`${p}.vpcCidrs`, 'must be a list of CIDR blocks');
    }
    if (b.vpcCidrs === undefined && b.vpc === undefined) {
      throw new AlbSyncPropsError(`${p}.vpcCidrs`, 'give vpcCidrs or vpc (an empty vpcCidrs list registers every address with AvailabilityZone "all")');
    }
    const vpcCidrs = [...(b.vpc ? [b.vpc.vpcCidrBlock] : []), ...(b.vpcCidrs ?? [])];
    const { alb: _alb, albArn: _albArn, targetGroup: _tg, vpc: _vpc, ...rest } = b;
    return { ...rest, dnsName: dnsName!, targetGroupArn, vpcCidrs, vpcCidrsFromVpc: b.vpc ? 1 : 0 };
  });
}

/** Validates every binding and the list as a whole; throws AlbSyncPropsError naming the prop. */
export function validateBindings(bindings: readonly ResolvedBindingProps[] | undefined): void {
  if (!bindings || bindings.length === 0) {
    throw new AlbSyncPropsError('bindings', 'at least one binding is required');
  }
  const names = new Map<string, number>();
  const targets = new Map<string, number>();
  bindings.forEach((b, i) => {
    const p = `bindings[${i}]`;
    if (typeof b.name !== 'string' || !NAME_RE.test(b.name)) {
      throw new AlbSyncPropsError(`${p}.name`, `${JSON.stringify(b.name)} must be 1-48 characters of a-z, 0-9 and -`);
    }
    const seen = names.get(b.name);
    if (seen !== undefined) {
      throw new AlbSyncPropsError(`${p}.name`, `duplicate binding name ${JSON.stringify(b.name)} (also bindings[${seen}])`);
    }
    names.set(b.name, i);
    checkDnsName(`${p}.dnsName`, b.dnsName);
    checkRange(`${p}.port`, b.port, 1, 65535);
    if (!Token.isUnresolved(b.targetGroupArn) && !TG_ARN_RE.test(b.targetGroupArn ?? '')) {
      throw new AlbSyncPropsError(
        `${p}.targetGroupArn`,
        `${JSON.stringify(b.targetGroupArn)} is not a target group ARN (arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)`,
      );
    }
    checkRange(`${p}.graceRuns`, b.graceRuns, 1, 1000);
    const family = b.family ?? AddressFamily.IPV4;
    if (!Object.values(AddressFamily).includes(family)) {
      throw new AlbSyncPropsError(`${p}.family`, `${JSON.stringify(family)} must be "ipv4" or "ipv6"`);
    }
    if (b.allowedCidrs !== undefined) {
      if (b.allowedCidrs.length === 0) {
        throw new AlbSyncPropsError(`${p}.allowedCidrs`, 'is empty: no address could ever be registered');
      }
      checkCidrs(`${p}.allowedCidrs`, b.allowedCidrs);
    } else if (family === AddressFamily.IPV6) {
      throw new AlbSyncPropsError(
        `${p}.allowedCidrs`,
        "is required for family ipv6: list the VPC's IPv6 CIDR(s); an ALB's IPv6 addresses are global unicast addresses, outside any built-in range",
      );
    }
    if (!Array.isArray(b.vpcCidrs)) {
      throw new AlbSyncPropsError(`${p}.vpcCidrs`, 'is required (an empty list registers every address with AvailabilityZone "all")');
    }
    const fromVpc = b.vpcCidrsFromVpc ?? 0;
    checkCidrs(`${p}.vpcCidrs`, b.vpcCidrs.slice(fromVpc), fromVpc);
    checkRange(`${p}.lookup.maxQueries`, b.lookup?.maxQueries, 1, 2000);
    checkRange(`${p}.lookup.settleQueries`, b.lookup?.settleQueries, 1, 200);
    checkRange(`${p}.lookup.timeoutMs`, b.lookup?.timeoutMs, 50, 30000);
    const mode = b.lookup?.mode;
    if (mode !== undefined && !Object.values(LookupMode).includes(mode)) {
      throw new AlbSyncPropsError(`${p}.lookup.mode`, `${JSON.stringify(mode)} must be "resolver" or "authoritative"`);
    }
    checkRange(`${p}.lookup.lookAgain`, b.lookup?.lookAgain, 0, 3);
    checkTimeoutFits(`${p}.lookup.timeoutMs`, b.lookup?.timeoutMs ?? DEFAULT_LOOKUP.timeoutMs);
    checkRange(`${p}.maxDeregistrationsPerRun`, b.maxDeregistrationsPerRun, 1, 1000);
    checkRange(`${p}.slotSeconds`, b.slotSeconds, 1, MAX_SLOT_SECONDS);
    checkRange(`${p}.graceSeconds`, b.graceSeconds, 1, 604_800);
    if (b.eni !== undefined) checkEni(`${p}.eni`, b.eni);
    if (b.roleArn !== undefined) checkRoleArn(`${p}.roleArn`, b.roleArn, b.targetGroupArn);
    // Two bindings claiming one target group and port fight over its targets: each deregisters what the other
    // registered (whatever their DNS names), and on the same name they would also share one state document.
    const key = `${b.targetGroupArn}|${b.port}`;
    const other = targets.get(key);
    if (other !== undefined) {
      throw new AlbSyncPropsError(
        `${p}`,
        `binding ${JSON.stringify(b.name)} claims target group ${b.targetGroupArn} port ${b.port}, already claimed by ` +
          `binding ${JSON.stringify(bindings[other].name)} (bindings[${other}]): each would deregister the other's targets`,
      );
    }
    targets.set(key, i);
  });
}

/** The binding as the state machine's execution input, every documented default filled in. */
export function executionInput(b: ResolvedBindingProps): ExecutionInput {
  const family = b.family ?? AddressFamily.IPV4;
  return {
    name: b.name,
    dnsName: b.dnsName,
    port: b.port,
    targetGroupArn: b.targetGroupArn,
    graceRuns: b.graceRuns ?? DEFAULT_GRACE_RUNS,
    allowedCidrs: [...(b.allowedCidrs ?? DEFAULT_ALLOWED_CIDRS[family])],
    vpcCidrs: [...b.vpcCidrs],
    family,
    lookup: {
      maxQueries: b.lookup?.maxQueries ?? DEFAULT_LOOKUP.maxQueries,
      settleQueries: b.lookup?.settleQueries ?? DEFAULT_LOOKUP.settleQueries,
      timeoutMs: b.lookup?.timeoutMs ?? DEFAULT_LOOKUP.timeoutMs,
      mode: b.lookup?.mode ?? DEFAULT_LOOKUP.mode,
      lookAgain: b.lookup?.lookAgain ?? DEFAULT_LOOKUP.lookAgain,
    },
    maxDeregistrationsPerRun: b.maxDeregistrationsPerRun ?? null,
    slotSeconds: b.slotSeconds ?? DEFAULT_SLOT_SECONDS,
    ...(b.graceSeconds !== undefined ? { graceSeconds: b.graceSeconds } : {}),
    ...(b.eni !== undefined ? { eni: { ...b.eni } } : {}),
    ...(b.roleArn !== undefined ? { roleArn: b.roleArn } : {}),
  };
}

/** The ALB's name and id of an `eni` source (its ARN split), as the event path matches them. */
export function eniNameAndId(eni: BindingEniSource): { loadBalancerName: string; loadBalancerId: string } {
  if (eni.loadBalancerArn !== undefined) {
    const resource = eni.loadBalancerArn.split(':').slice(5).join(':').split('/');
    return { loadBalancerName: resource[2], loadBalancerId: resource[3] };
  }
  return { loadBalancerName: eni.loadBalancerName!, loadBalancerId: eni.loadBalancerId! };
}
