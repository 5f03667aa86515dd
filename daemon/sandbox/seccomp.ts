// Pure: the seccomp filter every sandbox runs under, as the classic-BPF program bubblewrap loads from a file
// descriptor (`--seccomp FD`). No native addon: the program is built here, byte by byte, from the tables below.
//
// Everything is allowed except what sandboxed code never needs and a kernel exploit often does: new
// namespaces, mounts, tracing other processes, kernel keyrings, io_uring, eBPF, perf, module loading and the
// like. Those fail with EPERM, so a program sees an ordinary error instead of dying. clone3 fails with ENOSYS
// so libc falls back to clone, whose flags (unlike clone3's, which sit in memory) the filter can read.

/** `struct seccomp_data` offsets (include/uapi/linux/seccomp.h): nr, arch, then six u64 arguments. */
const DATA_NR = 0;
const DATA_ARCH = 4;
// The low 32 bits of argument i on a little-endian machine. Every argument checked here is an int or an
// unsigned int to the kernel (clone's flags too: kernel/fork.c uses lower_32_bits), so the high half is ignored
// by the kernel and need not be checked.
const argLow = (i: number) => 16 + 8 * i;

/** include/uapi/linux/audit.h: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE, and the same for EM_AARCH64. */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
/** x32 system calls arrive with arch x86_64 and this bit set in nr (arch/x86/include/uapi/asm/unistd.h). */
export const X32_SYSCALL_BIT = 0x40000000;

/** include/uapi/linux/seccomp.h */
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const EPERM = 1;
export const ENOSYS = 38;

/** include/uapi/linux/sched.h: NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (CLONE_NEWTIME is clone3/unshare only). */
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;
export const AF_UNIX = 1;
/** include/uapi/asm-generic/ioctls.h (used by both x86_64 and arm64). */
export const TIOCSTI = 0x5412;
export const TIOCLINUX = 0x541c;
/** personality(2): PER_LINUX, and 0xffffffff, which only asks for the current persona. */
const PERSONALITY_ALLOWED = [0, 0xffffffff];

export type SeccompArch = 'x86_64' | 'aarch64';

/**
 * System call numbers, [x86_64, aarch64]; null where the call does not exist on that architecture.
 * x86_64: arch/x86/entry/syscalls/syscall_64.tbl (on Debian 12: /usr/include/x86_64-linux-gnu/asm/unistd_64.h).
 * aarch64: include/uapi/asm-generic/unistd.h (/usr/include/asm-generic/unistd.h). From 424 on, both use one table.
 */
export const SYSCALL_NUMBERS = {
  ioctl: [16, 29],
  socket: [41, 198],
  socketpair: [53, 199],
  clone: [56, 220],
  ptrace: [101, 117],
  syslog: [103, 116],
  uselib: [134, null],
  personality: [135, 92],
  pivot_root: [155, 41],
  adjtimex: [159, 171],
  acct: [163, 89],
  settimeofday: [164, 170],
  mount: [165, 40],
  umount2: [166, 39],
  swapon: [167, 224],
  swapoff: [168, 225],
  reboot: [169, 142],
  iopl: [172, null],
  ioperm: [173, null],
  init_module: [175, 105],
  delete_module: [176, 106],
  quotactl: [179, 60],
  clock_settime: [227, 112],
  kexec_load: [246, 104],
  add_key: [248, 217],
  request_key: [249, 218],
  keyctl: [250, 219],
  unshare: [272, 97],
  perf_event_open: [298, 241],
  name_to_handle_at: [303, 264],
  open_by_handle_at: [304, 265],
  clock_adjtime: [305, 266],
  setns: [308, 268],
  process_vm_readv: [310, 270],
  process_vm_writev: [311, 271],
  kcmp: [312, 272],
  finit_module: [313, 273],
  kexec_file_load: [320, 294],
  bpf: [321, 280],
  userfaultfd: [323, 282],
  io_uring_setup: [425, 425],
  io_uring_enter: [426, 426],
  io_uring_register: [427, 427],
  open_tree: [428, 428],
  move_mount: [429, 429],
  fsopen: [430, 430],
  fsconfig: [431, 431],
  fsmount: [432, 432],
  fspick: [433, 433],
  clone3: [435, 435],
  pidfd_getfd: [438, 438],
  process_madvise: [440, 440],
  mount_setattr: [442, 442],
  quotactl_fd: [443, 443],
  open_tree_attr: [467, 467], // Linux 6.15; newer than Debian 12's headers
} as const satisfies Record<string, readonly [number, number | null]>;

export type SyscallName = keyof typeof SYSCALL_NUMBERS;

/** Denied outright with EPERM, grouped by what they would give an attacker. */
export const DENIED_SYSCALLS: readonly SyscallName[] = [
  // namespaces and mounts: rearranging the sandbox from inside
  'unshare', 'setns', 'mount', 'umount2', 'pivot_root', 'move_mount', 'open_tree', 'open_tree_attr', 'fsopen', 'fsmount', 'fsconfig', 'fspick', 'mount_setattr',
  // reaching into other processes
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'process_madvise', 'pidfd_getfd', 'kcmp',
  // large kernel attack surface that sandboxed code has no use for
  'keyctl', 'add_key', 'request_key', 'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'bpf', 'perf_event_open', 'userfaultfd',
  // the machine itself: modules, kexec, swap, reboot, accounting, quotas, clocks, the kernel log, raw ports
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'swapon', 'swapoff', 'reboot', 'acct', 'quotactl', 'quotactl_fd',
  'clock_settime', 'settimeofday', 'adjtimex', 'clock_adjtime', 'syslog', 'iopl', 'ioperm', 'uselib',
  // file handles bypass path lookup (the old "shocker" container escape)
  'open_by_handle_at', 'name_to_handle_at',
];

// ─── A tiny classic-BPF assembler: instructions with symbolic jump targets, resolved to 8-byte sock_filters ───

/** linux/bpf_common.h opcodes used here. */
const BPF = Object.freeze({
  LD_W_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS
  JMP_JEQ_K: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  JMP_JSET_K: 0x45, // BPF_JMP | BPF_JSET | BPF_K
  RET_K: 0x06, // BPF_RET | BPF_K
});

type Target = string | null; // a label, or null for "the next instruction"
type Item =
  | { readonly label: string }
  | { readonly code: number; readonly k: number; readonly jt?: Target; readonly jf?: Target };

const label = (name: string): Item => ({ label: name });
const load = (offset: number): Item => ({ code: BPF.LD_W_ABS, k: offset });
const ret = (value: number): Item => ({ code: BPF.RET_K, k: value });
const ifEqual = (k: number, jt: Target, jf: Target = null): Item => ({ code: BPF.JMP_JEQ_K, k, jt, jf });
const ifAnyBit = (k: number, jt: Target, jf: Target = null): Item => ({ code: BPF.JMP_JSET_K, k, jt, jf });

// Resolves labels to relative offsets and encodes each instruction as struct sock_filter (little-endian).
function assemble(items: readonly Item[]): Buffer {
  const positions = new Map<string, number>();
  const instructions: Exclude<Item, { label: string }>[] = [];
  for (const item of items) {
    if ('label' in item) {
      if (positions.has(item.label)) throw new Error(`seccomp: label ${item.label} defined twice`);
      positions.set(item.label, instructions.length);
    } else {
      instructions.push(item);
    }
  }
  const out = Buffer.alloc(instructions.length * 8);
  instructions.forEach((insn, index) => {
    const offset = (target: Target | undefined): number => {
      if (target === null || target === undefined) return 0;
      const at = positions.get(target);
      if (at === undefined) throw new Error(`seccomp: unknown label ${target}`);
      const distance = at - index - 1;
      if (distance < 0 || distance > 255) throw new Error(`seccomp: jump to ${target} out of range (${distance})`);
      return distance;
    };
    out.writeUInt16LE(insn.code, index * 8);
    out.writeUInt8(offset(insn.jt), index * 8 + 2);
    out.writeUInt8(offset(insn.jf), index * 8 + 3);
    out.writeUInt32LE(insn.k >>> 0, index * 8 + 4);
  });
  return out;
}

// ─── The program ───

const ARCHES: ReadonlyArray<{ arch: SeccompArch; audit: number; column: 0 | 1 }> = [
  { arch: 'x86_64', audit: AUDIT_ARCH_X86_64, column: 0 },
  { arch: 'aarch64', audit: AUDIT_ARCH_AARCH64, column: 1 },
];

/** What a fork server may do that its children may not: make their namespaces and mounts (docs/security.md, "Fork server"). */
export const FORK_SERVER_ALLOWED: readonly SyscallName[] = ['unshare', 'mount', 'umount2'];
/** include/uapi/linux/sched.h: unshare(CLONE_NEWUSER) stays denied to a fork server (bubblewrap's --disable-userns too). */
export const CLONE_NEWUSER = 0x10000000;

export interface SeccompOptions {
  /** The filter of a fork server (daemon/sandbox/fork-server/): unshare without CLONE_NEWUSER, mount and umount2
   * are allowed, so it can make each child a sandbox of its own; every child then loads the full filter on top. */
  readonly forkServer?: boolean;
}

// The rules for one architecture, given its system call numbers; labels are prefixed so sections do not clash.
function archSection(arch: SeccompArch, column: 0 | 1, options: SeccompOptions): Item[] {
  const nr = (name: SyscallName): number | null => SYSCALL_NUMBERS[name][column];
  const at = (name: string) => `${arch}:${name}`;
  const items: Item[] = [label(at('start')), load(DATA_NR)];
  if (arch === 'x86_64') items.push(ifAnyBit(X32_SYSCALL_BIT, at('enosys')));
  const checked: Array<[SyscallName, string]> = [
    ['clone', 'clone'], ['clone3', 'enosys'], ['socket', 'family'], ['socketpair', 'family'], ['ioctl', 'ioctl'], ['personality', 'personality'],
  ];
  if (options.forkServer) checked.push(['unshare', 'unshare']);
  for (const [name, target] of checked) items.push(ifEqual(nr(name) as number, at(target)));
  const denied = options.forkServer ? DENIED_SYSCALLS.filter((name) => !FORK_SERVER_ALLOWED.includes(name)) : DENIED_SYSCALLS;
  for (const name of denied) {
    const number = nr(name);
    if (number !== null) items.push(ifEqual(number, at('eperm')));
  }
  items.push(
    ret(SECCOMP_RET_ALLOW),
    // clone: no new namespace of any kind
    label(at('clone')), load(argLow(0)), ifAnyBit(CLONE_NAMESPACE_FLAGS, at('eperm'), at('allow')),
    // unshare (a fork server only): any namespace but a user namespace
    ...(options.forkServer ? [label(at('unshare')), load(argLow(0)), ifAnyBit(CLONE_NEWUSER, at('eperm'), at('allow'))] : []),
    // socket, socketpair: Unix sockets only (the bridge, socketpair); there is no network to reach anyway
    label(at('family')), load(argLow(0)), ifEqual(AF_UNIX, at('allow'), at('eperm')),
    // ioctl: no faking terminal input (TIOCSTI) or console tricks (TIOCLINUX)
    label(at('ioctl')), load(argLow(1)), ifEqual(TIOCSTI, at('eperm')), ifEqual(TIOCLINUX, at('eperm'), at('allow')),
    // personality: only plain Linux, or the query; never READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE
    label(at('personality')), load(argLow(0)),
    ...PERSONALITY_ALLOWED.map((value, i) => ifEqual(value, at('allow'), i === PERSONALITY_ALLOWED.length - 1 ? at('eperm') : null)),
    label(at('allow')), ret(SECCOMP_RET_ALLOW),
    label(at('eperm')), ret(SECCOMP_RET_ERRNO | EPERM),
    label(at('enosys')), ret(SECCOMP_RET_ERRNO | ENOSYS),
  );
  return items;
}

// The whole filter as bubblewrap's --seccomp reads it: an array of struct sock_filter. An architecture other
// than x86_64 or aarch64 (the 32-bit int 0x80 entry on x86_64, arm32 compat) kills the process: nothing
// legitimate in a sandbox uses one, and its system call numbers would slip past the tables above.
export function buildSeccompFilter(options: SeccompOptions = {}): Buffer {
  const items: Item[] = [load(DATA_ARCH)];
  for (const { arch, audit } of ARCHES) items.push(ifEqual(audit, `${arch}:start`));
  items.push(ret(SECCOMP_RET_KILL_PROCESS));
  for (const { arch, column } of ARCHES) items.push(...archSection(arch, column, options));
  return assemble(items);
}
