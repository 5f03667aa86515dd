// The seccomp program, checked the way the kernel would: validated like seccomp_check_filter, then run by a
// small classic-BPF interpreter on sample system calls. The numbers are checked against the kernel headers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import {
  AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64, buildSeccompFilter, CLONE_NAMESPACE_FLAGS, DENIED_SYSCALLS, ENOSYS, EPERM,
  SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SYSCALL_NUMBERS, TIOCLINUX, TIOCSTI, X32_SYSCALL_BIT,
  type SyscallName,
} from '../../daemon/sandbox/seccomp.js';

const AUDIT_ARCH_I386 = 0x40000003;
const AUDIT_ARCH_ARM = 0x40000028;
const ALLOW = SECCOMP_RET_ALLOW;
const DENY_EPERM = SECCOMP_RET_ERRNO | EPERM;
const DENY_ENOSYS = SECCOMP_RET_ERRNO | ENOSYS;
const SECCOMP_DATA_BYTES = 64;
const BPF_MAXINSNS = 4096;

interface Insn { code: number; jt: number; jf: number; k: number }

function decode(program: Buffer): Insn[] {
  assert.equal(program.length % 8, 0, 'a whole number of 8-byte sock_filter entries');
  return Array.from({ length: program.length / 8 }, (_, i) => ({
    code: program.readUInt16LE(i * 8), jt: program[i * 8 + 2], jf: program[i * 8 + 3], k: program.readUInt32LE(i * 8 + 4),
  }));
}

// What the kernel checks before accepting a filter (bpf_check_classic + seccomp_check_filter), for the opcodes used.
function validate(insns: Insn[]): void {
  assert.ok(insns.length > 0 && insns.length <= BPF_MAXINSNS, `length ${insns.length}`);
  insns.forEach((insn, pc) => {
    switch (insn.code) {
      case 0x20: // ld [k]
        assert.ok(insn.k % 4 === 0 && insn.k + 4 <= SECCOMP_DATA_BYTES, `pc ${pc}: load of offset ${insn.k}`);
        break;
      case 0x15: case 0x45: // jeq, jset
        assert.ok(pc + 1 + insn.jt < insns.length && pc + 1 + insn.jf < insns.length, `pc ${pc}: jump beyond the end`);
        break;
      case 0x06: // ret k
        break;
      default:
        assert.fail(`pc ${pc}: opcode 0x${insn.code.toString(16)} is not one this test knows`);
    }
  });
  assert.equal(insns.at(-1)?.code, 0x06, 'the last instruction returns');
}

interface SyscallSample { nr: number; arch?: number; args?: number[] }

// Runs the program on one struct seccomp_data, as the kernel does, and returns the action.
function decide(insns: Insn[], { nr, arch = AUDIT_ARCH_X86_64, args = [] }: SyscallSample): number {
  const data = Buffer.alloc(SECCOMP_DATA_BYTES);
  data.writeInt32LE(nr | 0, 0);
  data.writeUInt32LE(arch, 4);
  args.forEach((value, i) => data.writeBigUInt64LE(BigInt.asUintN(64, BigInt(value)), 16 + 8 * i));
  let a = 0;
  for (let pc = 0; pc < insns.length;) {
    const { code, jt, jf, k } = insns[pc++];
    if (code === 0x20) a = data.readUInt32LE(k);
    else if (code === 0x15) pc += a === k ? jt : jf;
    else if (code === 0x45) pc += (a & k) !== 0 ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`unknown opcode ${code}`);
  }
  throw new Error('ran off the end of the program');
}

const program = decode(buildSeccompFilter());
const x86 = (name: SyscallName) => SYSCALL_NUMBERS[name][0];
const arm = (name: SyscallName) => SYSCALL_NUMBERS[name][1] as number;
const name = (value: number) => `0x${value.toString(16)}`;

test('seccomp: a program the kernel would accept, the same every time', () => {
  validate(program);
  assert.deepEqual(buildSeccompFilter(), buildSeccompFilter());
  assert.deepEqual(program[0], { code: 0x20, jt: 0, jf: 0, k: 4 }, 'it starts by loading seccomp_data.arch');
  const archChecks = program.filter((insn) => insn.code === 0x15 && [AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64].includes(insn.k));
  assert.equal(archChecks.length, 2);
});

test('seccomp: other architectures and the 32-bit entry on x86_64 kill the process; x32 calls fail with ENOSYS', () => {
  for (const arch of [AUDIT_ARCH_I386, AUDIT_ARCH_ARM, 0]) {
    assert.equal(decide(program, { nr: 39, arch }), SECCOMP_RET_KILL_PROCESS, name(arch));
    assert.equal(decide(program, { nr: 1, arch }), SECCOMP_RET_KILL_PROCESS, name(arch));
  }
  for (const nr of [39, x86('unshare'), x86('socket'), 512]) {
    assert.equal(decide(program, { nr: nr | X32_SYSCALL_BIT, args: [2] }), DENY_ENOSYS, `x32 ${nr}`);
  }
});

test('seccomp: every denied call fails with EPERM on both architectures; ordinary calls are allowed', () => {
  for (const syscall of DENIED_SYSCALLS) {
    assert.equal(decide(program, { nr: x86(syscall) }), DENY_EPERM, `x86_64 ${syscall}`);
    const onArm = SYSCALL_NUMBERS[syscall][1];
    if (onArm !== null) assert.equal(decide(program, { nr: onArm, arch: AUDIT_ARCH_AARCH64 }), DENY_EPERM, `aarch64 ${syscall}`);
  }
  for (const required of ['unshare', 'setns', 'mount', 'ptrace', 'keyctl', 'io_uring_setup', 'bpf', 'perf_event_open', 'userfaultfd', 'open_by_handle_at', 'process_vm_readv', 'kexec_load', 'init_module'] as const) {
    assert.ok(DENIED_SYSCALLS.includes(required), required);
  }
  // read, write, openat, mmap, getpid, exit_group, execve, wait4, futex, fork on x86_64 ...
  for (const nr of [0, 1, 257, 9, 39, 231, 59, 61, 202, 57, 58, 262, 334]) assert.equal(decide(program, { nr }), ALLOW, `x86_64 ${nr}`);
  // ... and on aarch64: read, write, openat, mmap, getpid (172, which is iopl on x86_64), exit_group, execve, futex
  for (const nr of [63, 64, 56, 222, 172, 173, 94, 221, 98]) assert.equal(decide(program, { nr, arch: AUDIT_ARCH_AARCH64 }), ALLOW, `aarch64 ${nr}`);
});

test('seccomp: clone without namespace flags is allowed, with any of them denied; clone3 says ENOSYS', () => {
  const SIGCHLD = 17;
  const THREAD = 0x3d0f00; // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID (pthread_create)
  for (const [arch, nr, nr3] of [[AUDIT_ARCH_X86_64, x86('clone'), x86('clone3')], [AUDIT_ARCH_AARCH64, arm('clone'), arm('clone3')]]) {
    assert.equal(decide(program, { arch, nr, args: [SIGCHLD] }), ALLOW, 'fork');
    assert.equal(decide(program, { arch, nr, args: [THREAD] }), ALLOW, 'a thread');
    assert.equal(decide(program, { arch, nr, args: [0x100 | 0x4000 | SIGCHLD] }), ALLOW, 'vfork');
    for (let bit = 0; bit < 32; bit++) {
      const flag = 2 ** bit;
      if ((flag & CLONE_NAMESPACE_FLAGS) !== 0) assert.equal(decide(program, { arch, nr, args: [flag | SIGCHLD] }), DENY_EPERM, name(flag));
    }
    assert.equal(decide(program, { arch, nr, args: [0x10000000 | THREAD] }), DENY_EPERM, 'CLONE_NEWUSER in a thread');
    assert.equal(decide(program, { arch, nr: nr3, args: [0] }), DENY_ENOSYS, 'clone3');
  }
  assert.equal(CLONE_NAMESPACE_FLAGS, 0x7e020000);
});

test("seccomp: a fork server's filter allows unshare (never of a user namespace), mount and umount2, and nothing else more", () => {
  const server = decode(buildSeccompFilter({ forkServer: true }));
  validate(server);
  const NEWNS_PID_NET = 0x00020000 | 0x20000000 | 0x40000000;
  for (const [arch, column] of [[AUDIT_ARCH_X86_64, 0], [AUDIT_ARCH_AARCH64, 1]] as const) {
    const nr = (syscall: SyscallName) => SYSCALL_NUMBERS[syscall][column] as number;
    assert.equal(decide(server, { arch, nr: nr('unshare'), args: [NEWNS_PID_NET] }), ALLOW, 'unshare of mount, pid and network namespaces');
    assert.equal(decide(server, { arch, nr: nr('unshare'), args: [0x10000000] }), DENY_EPERM, 'unshare(CLONE_NEWUSER)');
    assert.equal(decide(server, { arch, nr: nr('unshare'), args: [0x10000000 | NEWNS_PID_NET] }), DENY_EPERM, 'CLONE_NEWUSER among others');
    assert.equal(decide(server, { arch, nr: nr('mount') }), ALLOW, 'mount');
    assert.equal(decide(server, { arch, nr: nr('umount2') }), ALLOW, 'umount2');
    assert.equal(decide(program, { arch, nr: nr('unshare'), args: [NEWNS_PID_NET] }), DENY_EPERM, 'the sandbox filter still denies unshare');
    for (const syscall of DENIED_SYSCALLS.filter((each) => !['unshare', 'mount', 'umount2'].includes(each))) {
      const number = SYSCALL_NUMBERS[syscall][column];
      if (number !== null) assert.equal(decide(server, { arch, nr: number }), DENY_EPERM, `${syscall} stays denied`);
    }
    assert.equal(decide(server, { arch, nr: nr('clone'), args: [0x20000000 | 17] }), DENY_EPERM, 'clone with a namespace flag stays denied');
  }
});

test('seccomp: sockets are Unix sockets only; TIOCSTI, TIOCLINUX and odd personalities are refused', () => {
  const [AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_ALG, AF_VSOCK] = [1, 2, 10, 16, 17, 38, 40];
  for (const [arch, socket, socketpair, ioctl, personality] of [
    [AUDIT_ARCH_X86_64, x86('socket'), x86('socketpair'), x86('ioctl'), x86('personality')],
    [AUDIT_ARCH_AARCH64, arm('socket'), arm('socketpair'), arm('ioctl'), arm('personality')],
  ]) {
    for (const nr of [socket, socketpair]) {
      assert.equal(decide(program, { arch, nr, args: [AF_UNIX, 1, 0] }), ALLOW, 'AF_UNIX');
      for (const family of [AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_ALG, AF_VSOCK, 0]) {
        assert.equal(decide(program, { arch, nr, args: [family, 1, 0] }), DENY_EPERM, `family ${family}`);
      }
      // the kernel reads the family as an int, so high bits change nothing, for it or for the filter
      assert.equal(decide(program, { arch, nr, args: [2 ** 32 + AF_UNIX, 1, 0] }), ALLOW);
      assert.equal(decide(program, { arch, nr, args: [2 ** 32 + AF_INET, 1, 0] }), DENY_EPERM);
    }
    assert.equal(decide(program, { arch, nr: ioctl, args: [0, TIOCSTI] }), DENY_EPERM, 'TIOCSTI');
    assert.equal(decide(program, { arch, nr: ioctl, args: [0, TIOCLINUX] }), DENY_EPERM, 'TIOCLINUX');
    for (const request of [0x5401, 0x5413, 0x541b, 0x5421]) assert.equal(decide(program, { arch, nr: ioctl, args: [1, request] }), ALLOW, name(request));
    assert.equal(decide(program, { arch, nr: personality, args: [0] }), ALLOW, 'PER_LINUX');
    assert.equal(decide(program, { arch, nr: personality, args: [0xffffffff] }), ALLOW, 'query');
    for (const persona of [0x0040000, 0x0400000, 0x0008, 0x0020000]) assert.equal(decide(program, { arch, nr: personality, args: [persona] }), DENY_EPERM, name(persona));
  }
});

// Each number in the table, against the kernel headers of this machine where they exist.
const headers = [
  { column: 0, file: '/usr/include/x86_64-linux-gnu/asm/unistd_64.h', pattern: (n: string) => new RegExp(`^#define __NR_${n}\\s+(\\d+)`, 'm') },
  { column: 1, file: '/usr/include/asm-generic/unistd.h', pattern: (n: string) => new RegExp(`^#define __NR(?:3264)?_${n}\\s+(\\d+)`, 'm') },
] as const;
for (const { column, file, pattern } of headers) {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  test(`seccomp: system call numbers match ${file}`, { skip: text === null ? `${file} is not installed (apt-get install linux-libc-dev)` : false }, () => {
    let checked = 0;
    for (const [syscall, numbers] of Object.entries(SYSCALL_NUMBERS)) {
      const expected = numbers[column];
      const match = pattern(syscall).exec(text as string);
      if (!match) {
        // absent: x86-only calls in the generic table, or calls newer than these headers
        assert.ok(expected === null || expected >= 460, `${syscall} is not in ${file} but the table gives ${expected}`);
        continue;
      }
      assert.equal(expected, Number(match[1]), syscall);
      checked++;
    }
    assert.ok(checked >= 50, `checked ${checked} numbers`);
  });
}
