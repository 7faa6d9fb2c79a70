"""Delivery engine: what survives a crash, a damaged spool and a reload.

  - kill -9 under sustained ingest with the disk spool (fsync: always), then
    a restart: every acknowledged event is delivered at least once; the
    duplicates are counted and printed (at least once allows them);
  - a torn record at the end of the newest spool segment (garbage appended,
    or the last record cut in the middle) after a crash: the gateway starts,
    logs the torn record, delivers the intact events, and appends after them;
  - SIGHUP under load loses nothing, and the reloaded configuration is live;
  - a chunk the pipeline cannot queue (the spool cannot start a segment) is
    refused, handed back to the TCP input and sent again after the pause:
    nothing lost, order kept.
"""

import json
import os
import signal
import struct
import sys
import time

import pytest

from delivery_util import (Ingest, events, launch, log_count, ndjson_bytes, newest_segment,
                           order_check, post_ok, receivers, spool_dir)
from harness import webhook

__all__ = ["launch", "receivers"]  # fixtures

SEG_HDR = 16  # "SRSP", u32 version, u64 first sequence number
REC_HDR = 16  # u32 length, u32 CRC-32C, u64 sequence number


def disk_hook(name, rcv, fsync="always", max_events=20, linger="20ms"):
    h = webhook(name, rcv.url("/" + name), batch={"max_events": max_events, "linger": linger})
    h["queue"] = {"type": "disk", "fsync": fsync}
    return h


def parse_segment(path):
    """[(offset, seq, length)] of the well-framed records of a segment (the
    CRC is not checked here: Python has no CRC-32C), and the file size."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"SRSP", "not a spool segment: %r" % data[:16]
    first = struct.unpack_from("<Q", data, 8)[0]
    recs, off, seq = [], SEG_HDR, first
    while off + REC_HDR <= len(data):
        length, _crc, s = struct.unpack_from("<IIQ", data, off)
        if s != seq or off + REC_HDR + length > len(data):
            break
        recs.append((off, s, length))
        off += REC_HDR + length
        seq += 1
    return recs, len(data)


def test_recovered_spool_is_sent_without_new_ingest(launch, receivers):
    rcv = receivers()
    rcv.down()
    workdir = launch.workdir("resume")
    integ = [disk_hook("resume", rcv)]
    gw = launch.start(workdir, integ)
    evs = events("s", 5)
    post_ok(gw, evs)
    gw.stop(check=True)
    assert "5 event(s) stay in the disk spool" in gw.stderr(), gw.stderr()
    rcv.up()
    gw2 = launch.start(workdir, integ)
    assert "5 record(s) recovered from the spool" in gw2.stderr(), gw2.stderr()
    rcv.wait(lambda r: len(r.accepted_events()) >= 5, timeout=8,
             message="records recovered from the spool were not sent (no new ingest)")
    assert rcv.accepted_ids() == [e["id"] for e in evs]


# ---- kill -9 under load -----------------------------------------------------------

def test_kill9_under_load_then_restart_delivers_every_acknowledged_event(launch, receivers):
    """Two crashes under sustained ingest, each followed by a restart on the
    same data directory: one while batches are being delivered (the batch
    in flight may be delivered twice), one while the receiver fails and a
    batch waits for its retry (that batch must not be lost)."""
    rcv = receivers()
    rcv.slow(0.02)  # deliveries lag ingest, so the spool holds records at the kill
    workdir = launch.workdir("kill9")
    integ = [disk_hook("durable", rcv, max_events=50)]
    gw = launch.start(workdir, integ)
    acked, report = [], []
    for phase in ("delivering", "retrying"):
        n_req = len(rcv.requests)
        n_ok = len(rcv.accepted_events())
        ing = Ingest(gw, "k" + phase[0], per_request=10).start()
        try:
            ing.wait_acked(300, timeout=30)
            rcv.wait(lambda r: len(r.accepted_events()) >= n_ok + 40, timeout=20)
            if phase == "retrying":
                rcv.fail(503)
                rcv.wait(lambda r: sum(1 for q in r.requests[n_req:] if q.status == 503) >= 2, timeout=20)
        finally:
            launch.kill9(gw)  # while the ingest thread is still posting
            ing.stop()
        assert len(ing.acked) >= 300
        acked.extend(ing.acked)
        assert os.listdir(spool_dir(gw, "durable")), "no spool on disk"
        report.append("%s: %d acknowledged, %d delivered before the kill"
                      % (phase, len(ing.acked), len(rcv.accepted_events()) - n_ok))
        rcv.ok()
        rcv.slow(0.02)
        gw = launch.start(workdir, integ)
        assert "recovered from the spool" in gw.stderr(), gw.stderr()

    acked_set = set(acked)
    try:
        rcv.wait(lambda r: acked_set <= set(r.accepted_ids()), timeout=45,
                 message="acknowledged events never delivered after the restart")
    finally:
        got = rcv.accepted_ids()
        missing, dups, _ = order_check(got, acked)
        unacked = sorted(set(got) - acked_set)
        print("\nkill -9 twice (%s): %d acknowledged, %d deliveries in all; %d lost, %d duplicated "
              "event(s), %d extra duplicate deliveries, %d delivered but never acknowledged (in "
              "flight at a kill)" % ("; ".join(report), len(acked), len(got), len(missing), len(dups),
                                     sum(c - 1 for c in dups.values()), len(unacked)))
        if dups:
            print("duplicates (id: times delivered): %s" % ", ".join(
                "%s: %d" % (k, v) for k, v in sorted(dups.items())))
    assert not missing, "acknowledged events lost: %d, e.g. %r" % (len(missing), missing[:10])
    # Duplicates can only come from the batch(es) in flight at a kill: a
    # few batches of 20, never the whole history.
    assert sum(c - 1 for c in dups.values()) <= 100, dups


# ---- a torn spool record ---------------------------------------------------------

@pytest.mark.parametrize("damage", ["garbage_appended", "last_record_cut"])
def test_torn_spool_record_is_recovered(launch, receivers, damage):
    rcv = receivers()
    rcv.down()  # everything stays in the spool
    workdir = launch.workdir("torn")
    integ = [disk_hook("torn", rcv)]
    gw = launch.start(workdir, integ)
    evs = events("t", 20)
    post_ok(gw, evs[:10])
    post_ok(gw, evs[10:])
    launch.kill9(gw)  # a crash: fsync always, so the 20 are on disk

    seg = newest_segment(gw, "torn")
    recs, size = parse_segment(seg)
    assert [s for _, s, _ in recs][-20:] == list(range(recs[-1][1] - 19, recs[-1][1] + 1)), recs
    assert recs[-1][0] + REC_HDR + recs[-1][2] == size, "the segment has bytes after its last record"
    last_seq = recs[-1][1]
    if damage == "garbage_appended":
        # What a crash in the middle of an append leaves: the start of a
        # record (length, CRC, the next sequence number) and part of it.
        with open(seg, "ab") as f:
            f.write(struct.pack("<IIQ", 900, 0x1BADB002, last_seq + 1) + b'{"id":"half-writ')
            f.write(os.urandom(37))
        intact = evs
    else:
        # The last record cut in the middle.
        off, _, length = recs[-1]
        with open(seg, "r+b") as f:
            f.truncate(off + REC_HDR + length // 2)
        intact = evs[:-1]

    rcv.up()
    gw2 = launch.start(workdir, integ)
    gw2.assert_running()
    rcv.wait(lambda r: set(e["id"] for e in intact) <= set(r.accepted_ids()), timeout=30,
             message="the intact events were not delivered after recovery")
    # The recovery is logged as such: the torn bytes and record(s).
    m = gw2.wait_stderr(r"spool.*segment \d{20}: .* at offset \d+ \(seq %d\): truncating (\d+) bytes, "
                        r"(\d+) record\(s\)" % (last_seq + 1 if damage == "garbage_appended" else last_seq),
                        timeout=5)
    assert int(m.group(2)) >= 1 and int(m.group(1)) > 0, m.group(0)

    # Appends continue right after the last good record: new events go out,
    # and the segment is well framed again up to its end.
    more = events("after", 3)
    post_ok(gw2, more)
    want = [e["id"] for e in intact + more]
    rcv.wait(lambda r: set(want) <= set(r.accepted_ids()), timeout=30)
    got = rcv.accepted_ids()
    missing, dups, in_order = order_check(got, want)
    assert not missing and in_order, (missing, got)
    assert not dups, "delivered twice after a clean recovery: %r" % dups
    if damage == "last_record_cut":
        assert evs[-1]["id"] not in got, "the cut record cannot have been delivered"
    gw2.stop(check=True)
    for name in sorted(os.listdir(spool_dir(gw2, "torn"))):
        if name.endswith(".seg"):
            recs2, size2 = parse_segment(os.path.join(spool_dir(gw2, "torn"), name))
            end = recs2[-1][0] + REC_HDR + recs2[-1][2] if recs2 else SEG_HDR
            assert end == size2, "%s: %d bytes after its last well-framed record" % (name, size2 - end)


# ---- SIGHUP under load -------------------------------------------------------------

@pytest.mark.parametrize("at_reload,qtype", [("slow", "memory"), ("failing", "memory"),
                                              ("failing", "disk")])
def test_sighup_under_load_loses_nothing(launch, receivers, at_reload, qtype):
    """Sustained ingest; SIGHUP with a rewritten configuration while `main`
    has a backlog (its receiver slow) or is retrying / inhibited (its
    receiver answering 503). `main` keeps its name, so it must keep its
    queue; the reload adds an integration, to see that it happened."""
    rcv = receivers()
    rcv.slow(0.01)
    added = receivers()
    workdir = launch.workdir("hup")
    main = webhook("main", rcv.url("/main"), batch={"max_events": 20, "linger": "20ms"})
    main["queue"] = {"type": qtype}
    gw = launch.start(workdir, [main])
    ing = Ingest(gw, "h", per_request=10, keep_going=True).start()
    try:
        ing.wait_acked(200, timeout=30)
        if at_reload == "failing":
            rcv.fail(503)
            rcv.wait(lambda r: sum(1 for q in r.requests if q.status == 503) >= 2, timeout=15)
        gw.integrations.append(webhook("added", added.url("/added"),
                                       batch={"max_events": 20, "linger": "20ms"}))
        gw.write_config()
        since = gw.stderr_len()
        acked_at_hup = len(ing.acked)
        os.kill(gw.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 30
        while len(ing.acked) < acked_at_hup + 200:
            if not gw.running():
                launch.forget(gw)
                pytest.fail("the gateway died of SIGHUP (exit %s); stderr:\n%s"
                            % (gw.proc.poll(), gw.stderr()[-2000:]))
            assert time.monotonic() < deadline, "ingest stalled after SIGHUP (%d acknowledged since)" \
                % (len(ing.acked) - acked_at_hup)
            time.sleep(0.02)
        gw.wait_stderr(r"configuration reloaded", timeout=10, since=since)
        added.wait(lambda r: len(r.accepted_events()) >= 20, timeout=20,
                   message="the integration added by the reload receives nothing")
    finally:
        ing.stop()
    gw.assert_running()
    rcv.ok().slow(0)
    acked = set(ing.acked)
    rcv.wait(lambda r: acked <= set(r.accepted_ids()), timeout=40,
             message="acknowledged events lost across the reload")
    missing, dups, _ = order_check(rcv.accepted_ids(), ing.acked)
    assert not missing
    print("\nSIGHUP (%s, %s queue): %d acknowledged (%d refused with 503 and resent), %d duplicated"
          % (at_reload, qtype, len(acked), ing.refused, len(dups)))
    assert "discarded" not in gw.stderr()
    gw.stop(check=True)


def test_memory_queue_leftovers_at_shutdown_go_to_the_dead_letter_file(launch, receivers):
    """A memory queue cannot outlive the process: what the shutdown deadline
    leaves (the batch in flight included) is written to the dead-letter file
    with stage "shutdown", oldest first, and nothing is silently lost."""
    rcv = receivers()
    rcv.down()
    h = webhook("mem", rcv.url("/mem"), batch={"max_events": 3, "linger": "20ms"})
    h["configuration"]["output"] = "ndjson"
    conf = {"delivery": {"backoff": "100ms", "backoff_max": "300ms", "inhibit": "30s",
                         "shutdown_timeout": "1s"}}
    gw = launch.start(launch.workdir("leftovers"), [h], conf=conf)
    evs = events("left", 7)
    post_ok(gw, evs)
    # The receiver is down: the first batch fails and waits for its retry.
    gw.wait_stderr(r"attempt 1 failed", timeout=15)
    gw.stop()
    dl = [d for d in gw.deadletters() if d.get("integration") == "mem"]
    assert [d["stage"] for d in dl] == ["shutdown"] * len(evs), dl
    got = [(d["record"] if isinstance(d["record"], dict) else json.loads(d["record"]))["id"]
           for d in dl]
    assert got == [e["id"] for e in evs], got
    # Each with the event it was encoded from (queue.keep_events, the memory
    # default), so `replay --reencode` can rebuild it.
    assert [d["event"] for d in dl] == evs, dl
    assert "dead-letter file for replay" in gw.stderr()


def test_tcp_chunk_refused_by_the_spool_is_sent_again(launch, receivers):
    """The spool cannot create its next segment (a directory sits at every
    name it could take), so queueing fails and the pipeline answers 503.
    TCP cannot tell the sender to retry: the input gets the chunk back,
    pauses, and sends it again until the spool works again."""
    rcv = receivers()
    workdir = launch.workdir("refused")
    h = webhook("refused", rcv.url("/refused"), batch={"max_events": 50, "linger": "20ms"})
    h["queue"] = {"type": "disk", "fsync": "never", "segment_bytes": 4096}
    gw = launch.start(workdir, [h], tcp=True)
    first = events("pre", 1)
    s = gw.tcp_connect()
    try:
        s.sendall(ndjson_bytes(first))
        rcv.wait(lambda r: r.accepted_ids() == ["pre-000000"], timeout=15,
                 message="the first event was not delivered")
        # Block every segment name the next roll could use.
        d = spool_dir(gw, "refused")
        blockers = []
        for seq in range(2, 400):
            p = os.path.join(d, "%020d.seg" % seq)
            if not os.path.exists(p):
                os.mkdir(p)
                blockers.append(p)
        evs = events("tcp", 60, pad=200)  # ~16 KB: the 4 KiB segment must roll
        s.sendall(ndjson_bytes(evs))
        gw.wait_stderr(r"gateway busy, lines \d+-\d+ refused", timeout=10)
        time.sleep(1.5)  # at least one more refusal while blocked
        for p in blockers:
            os.rmdir(p)
        want = ["pre-000000"] + [e["id"] for e in evs]
        rcv.wait(lambda r: set(want) <= set(r.accepted_ids()), timeout=20,
                 message="refused events were not delivered once the spool worked again")
    finally:
        s.close()
    got = [i for i in rcv.accepted_ids() if i in set(want)]
    # At least once: a resend may repeat what an earlier attempt queued;
    # first arrivals keep the stream's order.
    firsts = list(dict.fromkeys(got))
    assert firsts == want, "events out of order after the resend"
    text = gw.stderr()
    assert log_count(text, r"refused; pausing reads for 1 s, then sending them again") >= 1, text[-2000:]
    assert log_count(text, r"sending lines \d+-\d+ again") >= 1, text[-2000:]
    assert log_count(text, r"lost") == 0, text[-2000:]
    gw.assert_running()



def _v1_segment(first_seq, records):
    """A spool segment as releases before events were kept wrote it (header
    version 1, each payload the record alone): the fuzz corpus's builder."""
    fuzz = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fuzz")
    if fuzz not in sys.path:
        sys.path.insert(0, fuzz)
    from make_corpus import segment
    return segment(first_seq, records, version=1)

def test_a_version1_spool_is_delivered_after_the_upgrade(launch, receivers):
    """A disk spool an older release left (version-1 segment) is delivered
    by this one, oldest first, each once; new events go into a version-2
    segment behind it, and a second start finds nothing left to send."""
    rcv = receivers()
    workdir = launch.workdir("upgrade")
    old = events("v1", 4)
    d = os.path.join(str(workdir), "data", "spool", "up")
    os.makedirs(d)
    with open(os.path.join(d, "%020d.seg" % 1), "wb") as f:
        f.write(_v1_segment(1, [json.dumps(e, separators=(",", ":")).encode() for e in old]))
    h = webhook("up", rcv.url("/up"), batch={"max_events": 3, "linger": "20ms"})
    h["queue"] = {"type": "disk", "keep_events": True}
    gw = launch.start(workdir, [h])
    rcv.wait(lambda r: len(r.accepted_ids()) >= 4, timeout=15, message="the old spool was not delivered")
    assert "4 record(s) recovered from the spool" in gw.stderr()
    new = events("v2", 3)
    post_ok(gw, new)
    rcv.wait(lambda r: len(r.accepted_ids()) >= 7, timeout=15)
    segs = sorted(n for n in os.listdir(d) if n.endswith(".seg"))
    with open(os.path.join(d, segs[-1]), "rb") as f:
        assert struct.unpack("<I", f.read(8)[4:])[0] == 2  # new records: version 2
    gw.stop(check=True)
    gw = launch.start(workdir, [h])
    post_ok(gw, events("probe", 1))
    rcv.wait(lambda r: "probe-000000" in r.accepted_ids(), timeout=15)
    ids = rcv.accepted_ids()
    assert ids == [e["id"] for e in old + new] + ["probe-000000"], ids
    got = {e["id"]: e for e in rcv.accepted_events()}
    assert all(got[e["id"]] == e for e in old + new)
    assert "corrupt" not in gw.stderr() and "skipping" not in gw.stderr()
