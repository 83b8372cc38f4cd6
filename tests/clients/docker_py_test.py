#!/usr/bin/python3
"""docker-py (Debian's python3-docker) against berthd: the calls a Python
program makes. Run by tests/e2e/clients_test.cc with DOCKER_HOST set to a
test berthd that has the busybox image; exits non-zero (with a message
naming the step) on the first thing that differs from Docker."""
import io
import os
import sys
import tarfile
import time

import docker

client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="1.41", timeout=60)
step = "start"


def check(cond, what):
    if not cond:
        sys.exit(f"docker-py: {step}: {what}")


step = "ping and version"
check(client.ping(), "ping")
check(client.version()["ApiVersion"], "version")
check(client.info()["OSType"] == "linux", "info")

step = "run and logs"
out = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], remove=True, stdout=True, stderr=True)
check(b"out" in out and b"err" in out, f"output {out!r}")

step = "labels filter is AND"
a = client.containers.create("busybox", ["sleep", "100"], labels={"a": "1", "b": "2"}, name="pyA")
b = client.containers.create("busybox", ["sleep", "100"], labels={"a": "1"}, name="pyB")
both = client.containers.list(all=True, filters={"label": ["a=1", "b=2"]})
check([c.name for c in both] == ["pyA"], f"label a=1 AND b=2 gave {[c.name for c in both]}")
check(len(client.containers.list(all=True, filters={"label": "a=1"})) == 2, "label a=1")
check(len(client.containers.list(all=True, limit=1)) == 1, "limit")

step = "start, exec, attach, wait, stop"
a.start()
a.reload()
check(a.status == "running", a.status)
code, output = a.exec_run(["sh", "-c", "echo hi; exit 3"])
check(code == 3 and output == b"hi\n", f"exec_run {code} {output!r}")
code, output = a.exec_run(["cat", "/etc/hostname"], demux=False)
check(code == 0 and output.strip(), f"exec cat /etc/hostname {code} {output!r}")
a.stop(timeout=1)
check(a.wait(timeout=30)["StatusCode"] in (137, 143), "wait after stop")

step = "attach to a container's output"
c = client.containers.run("busybox", ["sh", "-c", "sleep 0.5; echo attached"], detach=True)
lines = b"".join(c.attach(stream=True, logs=True, stdout=True, stderr=True))
check(b"attached" in lines, f"attach {lines!r}")
check(c.wait()["StatusCode"] == 0, "wait")
c.remove()

step = "archives"
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    data = b"hello archive\n"
    ti = tarfile.TarInfo("greeting.txt")
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
b.put_archive("/tmp", buf.getvalue())
stream, stat = b.get_archive("/tmp/greeting.txt")
raw = b"".join(stream)
with tarfile.open(fileobj=io.BytesIO(raw)) as t:
    check(t.extractfile("greeting.txt").read() == b"hello archive\n", "get_archive content")
check(stat["name"] == "greeting.txt" and stat["size"] == 14, f"stat {stat}")

step = "images"
img = client.images.get("busybox")
img.tag("pytest", "v1")
check("pytest:v1" in client.images.get("pytest:v1").tags, "tag")
check(any("busybox:latest" in i.tags for i in client.images.list(filters={"reference": "busybox"})), "reference filter")
client.images.remove("pytest:v1")

step = "volumes"
v = client.volumes.create(name="pyvol", labels={"team": "a"})
check(client.volumes.get("pyvol").attrs["Labels"] == {"team": "a"}, "volume labels")
check([x.name for x in client.volumes.list(filters={"label": "team=a"})] == ["pyvol"], "volume filter")
v.remove()

step = "events"
since = int(time.time()) - 1
client.containers.run("busybox", ["true"], remove=True)
until = int(time.time()) + 1
actions = [e["Action"] for e in client.events(since=since, until=until, decode=True, filters={"type": "container"})]
check("start" in actions and "die" in actions and "destroy" in actions, f"events {actions}")

step = "cleanup"
for name in ("pyA", "pyB"):
    client.containers.get(name).remove(force=True)
print("docker-py: all checks passed")
