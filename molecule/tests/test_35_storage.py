"""Shared uploads, seen from the nodes: one GlusterFS replica-3 volume (the third brick an arbiter) with every
brick online, mounted on every web node at the uploads path, and a file written through one web node's mount
is there, byte for byte, through every other one."""
import re
import uuid

VOLUME = "ha_lamp_uploads"
UPLOADS = "/srv/ha-lamp/shared/uploads"


def gluster(lab, *args):
    cmd = lab.host(lab.groups["storage"][0]).run("gluster --mode=script " + " ".join(args))
    assert cmd.rc == 0, f"gluster {' '.join(args)}: {cmd.stdout} {cmd.stderr}"
    return cmd.stdout


def test_the_volume_is_replica_3_with_an_arbiter_in_inventory_order(lab):
    info = gluster(lab, "volume info", VOLUME)
    assert "Status: Started" in info, info
    assert re.search(r"Number of Bricks: 1 x \(2 \+ 1\) = 3", info), info
    bricks = re.findall(r"(?m)^Brick[0-9]+: (\S+?)(\s+\(arbiter\))?$", info)
    assert [b[0].split(":")[0] for b in bricks] == [lab.address(h) for h in lab.groups["storage"]], bricks
    assert [bool(b[1]) for b in bricks] == [False, False, True], bricks
    assert "cluster.quorum-type: auto" in info, info


def test_every_brick_is_online(lab):
    status = gluster(lab, "volume status", VOLUME, "--xml")
    online = re.findall(r"<path>/[^<]*</path>\s*<peerid>[^<]*</peerid>\s*<status>1</status>", status)
    # Bricks plus one self-heal daemon per host report status 1.
    assert len([p for p in online if VOLUME in p]) == 3, status


def test_every_web_node_mounts_the_volume_at_the_uploads_path(lab):
    for web in lab.groups["webservers"]:
        cmd = lab.host(web).run(f"findmnt --noheadings --output FSTYPE,SOURCE --mountpoint {UPLOADS}")
        assert cmd.rc == 0, f"{web}: {UPLOADS} is not a mount point"
        fstype, source = cmd.stdout.split()
        assert fstype == "fuse.glusterfs" and source.endswith(":/" + VOLUME), f"{web}: {cmd.stdout}"


def test_a_file_written_on_one_web_node_is_read_on_every_other(lab):
    webs = lab.groups["webservers"]
    name = f"{UPLOADS}/.verify-{uuid.uuid4().hex}"
    content = uuid.uuid4().hex
    writer = lab.host(webs[0])
    assert writer.run(f"echo {content} > {name}").rc == 0
    try:
        for web in webs[1:]:
            cmd = lab.host(web).run(f"cat {name}")
            assert cmd.rc == 0 and cmd.stdout.strip() == content, f"{web}: {cmd.stdout} {cmd.stderr}"
    finally:
        writer.run(f"rm -f {name}")
