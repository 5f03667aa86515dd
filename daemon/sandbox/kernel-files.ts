// Reads and writes of the kernel's small virtual files (/proc, cgroupfs): one open, one read or write, one close.
//
// They are made synchronously, on the daemon's own thread: each takes some µs (an open, read and close of a
// cgroup file about 20 µs here), while handing one call to the thread pool costs the main thread 50–100 µs on
// these VMs (the wake-up of an idle worker is a cross-CPU interrupt) and as much again on the worker. An
// execution makes dozens of them (limits, counters, the freezer, the group's removal), so that was a few ms of
// the daemon's CPU per execution. The promise they answer is kept, so a caller need not know.
//
// The exception is a write the kernel itself may hold for milliseconds: a move into a cgroup (cgroup.procs
// waits for an RCU grace period) and a memory limit (the kernel reclaims down to it first). Those go through
// the thread pool (writeKernelFileInPool), so that they never stop the daemon.
import fs from 'node:fs';

/** The buffer every read is made into (they are synchronous, so one at a time): a new 64 KiB buffer for each
 * read was megabytes of garbage per execution, and the old-space collections it caused cost more than the reads. */
const SCRATCH = Buffer.allocUnsafeSlow(64 * 1024);

// The text of a kernel file of at most maxBytes (virtual files report size 0, so one generous read is made).
export function readKernelFile(file: string, maxBytes = 64 * 1024): Promise<string> {
  try {
    return Promise.resolve(readKernelFileSync(file, maxBytes));
  } catch (error) {
    return Promise.reject(error);
  }
}

// Writes a value to a kernel control file in one write; never creates the file (cgroupfs would refuse that
// with EACCES, hiding the ENOENT of a control file this kernel does not have).
export function writeKernelFile(file: string, value: string): Promise<void> {
  try {
    const fd = fs.openSync(file, fs.constants.O_WRONLY);
    try {
      fs.writeSync(fd, value, null, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error);
  }
}

// As writeKernelFile, on the thread pool: for the writes the kernel may hold (a cgroup move, a memory limit).
export function writeKernelFileInPool(file: string, value: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(file, fs.constants.O_WRONLY, (openError, fd) => {
      if (openError) return reject(openError);
      fs.write(fd, value, null, 'utf8', (writeError) => {
        fs.close(fd, () => (writeError ? reject(writeError) : resolve()));
      });
    });
  });
}

function readKernelFileSync(file: string, maxBytes: number): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY);
  try {
    const buffer = maxBytes <= SCRATCH.length ? SCRATCH : Buffer.allocUnsafe(maxBytes);
    return buffer.toString('utf8', 0, fs.readSync(fd, buffer, 0, maxBytes, null));
  } finally {
    fs.closeSync(fd);
  }
}
