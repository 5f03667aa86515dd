// Pure: the two util-linux commands in front of every sandbox that tie its life to the daemon's, at every moment
// of it, bubblewrap's set-up included.
//
// bubblewrap's outer process forks the sandbox's pid 1, which waits on an eventfd until the outer one has written
// its uid map; it binds itself to the outer one's life (--die-with-parent) only later, and the outer one stops
// without waiting for it once the code has exited. So an outer bubblewrap that died early (the daemon gone) left
// that child waiting forever, outside any cgroup; and on every ordinary exit the child became an orphan, a zombie
// for whoever is pid 1. Here the outer bubblewrap is itself the pid 1 of a pid namespace of its own: whenever it
// ends, the kernel kills and reaps everything below it, and the unshare that forked it reaps it.

/** util-linux's setpriv: sets the parent-death signal (after any uid change, which would clear it), then execs. */
export const SETPRIV_PATH = '/usr/bin/setpriv';
/** util-linux's unshare: makes the namespaces, forks the command into them and waits for it. */
export const UNSHARE_PATH = '/usr/bin/unshare';

// The command line, without its first word (SETPRIV_PATH), to put before prlimit and bubblewrap:
// - setpriv --pdeathsig KILL: SIGKILL when the daemon dies (run as the sandbox user, so set after the uid change);
// - unshare --user --map-current-user --pid --fork --kill-child: a pid namespace (in a user namespace of its own,
//   so no privilege is needed, as for bubblewrap) whose pid 1 is what follows, SIGKILLed when unshare dies;
// - --mount --propagation slave --mount-proc: a /proc of that namespace, where bubblewrap looks its child up by
//   the pid clone() gave it (in the host's /proc that pid is another process, or none). Slave: the host's
//   unmounts still reach this copy of its mounts, which would otherwise keep their memory (a workspace tmpfs
//   unmounted on the host) until the sandbox ends. Private, for an installer: its bubblewrap binds the whole
//   root read-only, remounting every mount of the copy as it goes, and an unmount that reached the copy meanwhile
//   (another execution ending) made that fail with EINVAL; a private copy does not change under it (the host's
//   unmounts and rmdirs still succeed; what they free is freed when the installer ends).
export function buildOuterNamespaceArgs(propagation: 'slave' | 'private' = 'slave'): string[] {
  return [
    '--pdeathsig', 'KILL', '--',
    UNSHARE_PATH, '--user', '--map-current-user', '--pid', '--fork', '--kill-child=SIGKILL', '--mount', '--propagation', propagation, '--mount-proc', '--',
  ];
}
