// Reads and writes of the kernel's small virtual files (/proc, cgroupfs): one open, one read or write, one
// close, each on the thread pool. fs.promises.readFile costs several times that (an fstat, then reads until
// end of file, through a FileHandle), which adds up when a walk of /proc reads a file per process.
import fs from 'node:fs';

// The text of a kernel file of at most maxBytes (virtual files report size 0, so one generous read is made).
export function readKernelFile(file: string, maxBytes = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    fs.open(file, fs.constants.O_RDONLY, (openError, fd) => {
      if (openError) return reject(openError);
      const buffer = Buffer.allocUnsafe(maxBytes);
      fs.read(fd, buffer, 0, maxBytes, null, (readError, bytes) => {
        fs.close(fd, () => (readError ? reject(readError) : resolve(buffer.toString('utf8', 0, bytes))));
      });
    });
  });
}

// Writes a value to a kernel control file in one write; never creates the file (cgroupfs would refuse that
// with EACCES, hiding the ENOENT of a control file this kernel does not have).
export function writeKernelFile(file: string, value: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(file, fs.constants.O_WRONLY, (openError, fd) => {
      if (openError) return reject(openError);
      fs.write(fd, value, null, 'utf8', (writeError) => {
        fs.close(fd, () => (writeError ? reject(writeError) : resolve()));
      });
    });
  });
}
