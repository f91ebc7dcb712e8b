"""The lab's base image, made from Debian's static busybox (no registry is reachable here)."""

from __future__ import annotations

import io
import subprocess
import tarfile
import time

from orchestrator.lab import system
from orchestrator.lab.daemons import docker
from orchestrator.lab.spec import BASE_IMAGE, LabHost


def busybox_rootfs() -> bytes:
    """A tar of a minimal root: /bin/busybox, a link per applet, /etc/passwd, /tmp, /www."""
    busybox = system.which("busybox") or "/bin/busybox"
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp", "www", "var", "var/run", "root"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755, now
            tar.addfile(ti)
        tar.add(busybox, arcname="bin/busybox")
        for a in applets:
            if a == "busybox":
                continue
            ti = tarfile.TarInfo(f"bin/{a}")
            ti.type, ti.linkname, ti.mtime = tarfile.SYMTYPE, "busybox", now
            tar.addfile(ti)
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"),
                           ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
                           ("www/index.html", "orc lab\n")):
            data = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, now
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def has_image(h: LabHost, image: str = BASE_IMAGE) -> bool:
    return docker(h, "image", "inspect", image, check=False, timeout=30).returncode == 0


def load_base_image(h: LabHost, rootfs: bytes) -> None:
    if has_image(h):
        return
    docker(h, "import", "--change", 'CMD ["sh"]', "--change", "ENV PATH=/bin", "-", BASE_IMAGE,
           input=rootfs, timeout=120)
