"""The bench's Jupyter peer: a warm ipykernel, driven through jupyter_client, with no isolation at all.

Hosted code interpreters run such a kernel inside their VMs; the bench compares Runbox with it. This driver
starts one kernel, says {"ready": ...} on stdout, then for each JSON line {"code": ...} on stdin executes the
code in that kernel, waits until the kernel is idle again (its outputs and figures sent), and answers one JSON
line {"status": "ok"} (or the error). Outputs are counted, never printed: stdout carries only the protocol.
"""
import json
import sys

from jupyter_client import KernelManager
import ipykernel
import jupyter_client


def main(work_dir):
    # The default kernel spec runs this interpreter (the bench's venv) with ipykernel's default (inline)
    # matplotlib backend: figures left open come back as PNG display data, as Runbox captures them.
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=work_dir)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        answer({"ready": True, "ipykernel": ipykernel.__version__, "jupyter_client": jupyter_client.__version__,
                "python": sys.version.split()[0], "kernelPid": manager.provisioner.pid})
        for line in sys.stdin:
            code = json.loads(line)["code"]
            outputs = []
            reply = client.execute_interactive(code, timeout=120, allow_stdin=False,
                                               output_hook=lambda message: outputs.append(message["msg_type"]))
            content = reply["content"]
            if content["status"] == "ok":
                answer({"status": "ok", "displays": outputs.count("display_data")})
            else:
                answer({"status": content["status"], "error": f'{content.get("ename")}: {content.get("evalue")}'})
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def answer(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
