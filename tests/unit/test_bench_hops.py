"""Pure parts of benchmarks/bench_hops.py: output parsers, cgroup files, percentiles, normalisation.

The samples are real outputs (sysbench 1.0.20 from Debian 12, the lab host's mountinfo and
/proc/<pid>/cgroup under cgroups v1 hybrid, HAProxy 2.6's 'show servers state'), trimmed. wrk's report and
`ip -o addr` are parsed by benchmarks/labkit.py, tested in test_bench_labkit.py.
"""

import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS = os.path.join(ROOT, "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)  # bench_hops imports labkit by name, as when run as a script


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_hops", os.path.join(ROOT, "benchmarks", "bench_hops.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_bench()

SYSBENCH = """sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)

Running the test with following options:
Number of threads: 1
Initializing random number generator from current time


Initializing worker threads...

Threads started!

Latency histogram (values are in milliseconds)
       value  ------------- distribution ------------- count
       2.025 |**                                       1
       2.106 |********                                 4
       2.190 |**************************************** 20
       2.277 |**********                               5
       3.020 |****                                     2
      12.298 |**                                       1
\x20
SQL statistics:
    queries performed:
        read:                            0
        write:                           132
        other:                           66
        total:                           198
    transactions:                        33     (16.44 per sec.)
    queries:                             198    (98.62 per sec.)
    ignored errors:                      1      (0.50 per sec.)
    reconnects:                          2      (1.00 per sec.)

General statistics:
    total time:                          2.0073s
    total number of events:              33

Latency (ms):
         min:                                    2.01
         avg:                                    2.55
         max:                                   12.29
         95th percentile:                        3.02
         sum:                                   84.09

Threads fairness:
    events (avg/stddev):           33.0000/0.00
    execution time (avg/stddev):   0.0841/0.00

"""

MOUNTINFO_HYBRID = """22 1 0:21 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""

MOUNTINFO_SHARED_CPU = """25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
26 24 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
"""

MOUNTINFO_V2 = "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"

LIBPOD = "/libpod_parent/libpod-089a51e26a0a"
PROC_CGROUP_HYBRID = f"""9:name=systemd:{LIBPOD}/init.scope
2:cpuacct:{LIBPOD}
1:cpu:{LIBPOD}
0::{LIBPOD}
"""

SERVERS_STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight \
srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state \
bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr \
srv_agent_port
5 web 1 web1 10.213.77.21 2 0 1 1 236 15 3 3 6 0 0 0 - 80 - 0 0 - - 0
5 web 2 web2 10.213.77.22 2 1 1 1 236 15 3 3 6 0 0 0 - 80 - 0 0 - - 0
5 web 3 web3 10.213.77.23 0 0 1 1 236 15 3 3 6 0 0 0 - 80 - 0 0 - - 0

"""

PING = """PING 10.213.77.32 (10.213.77.32) 56(84) bytes of data.
64 bytes from 10.213.77.32: icmp_seq=1 ttl=64 time=0.065 ms
64 bytes from 10.213.77.32: icmp_seq=2 ttl=64 time=0.052 ms
64 bytes from 10.213.77.32: icmp_seq=3 ttl=64 time=0.120 ms

--- 10.213.77.32 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 404ms
rtt min/avg/max/mdev = 0.052/0.079/0.120/0.029 ms
"""

PROC_STAT = ("6014 (python3) S 1 6014 6014 0 -1 4194560 9961 0 0 0 3339 451 7 3 20 0 6 0 2821787 640577536 8067 "
             "18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n")


def test_parse_sections_keeps_the_canonical_order_and_refuses_unknown_names():
    assert bench.parse_sections("agent, cpu") == ["cpu", "agent"]
    assert bench.parse_sections("cpu,latency,semisync,agent") == list(bench.SECTIONS)
    for bad in ("cpu,disk", "", " , "):
        with pytest.raises(ValueError):
            bench.parse_sections(bad)


def test_per_10k_and_net_cpu():
    assert bench.per_10k(0.5, 25000) == pytest.approx(0.2)
    assert bench.per_10k(1.2, 10000) == pytest.approx(1.2)
    with pytest.raises(ValueError):
        bench.per_10k(1.0, 0)
    # 0.05 s idle over 2 s is 0.025 s/s; over a 5 s load that is 0.125 s to take off 0.625 s.
    assert bench.net_cpu(0.625, 5.0, 0.05, 2.0) == pytest.approx(0.5)
    assert bench.net_cpu(0.01, 5.0, 0.05, 2.0) == 0.0
    assert bench.net_cpu(0.3, 5.0, 0.0, 0.0) == pytest.approx(0.3)


def test_parse_mountinfo_hybrid_with_separate_cpu_and_cpuacct():
    mounts = bench.parse_mountinfo(MOUNTINFO_HYBRID)
    assert mounts["v1"] == {"cpu": ("/sys/fs/cgroup/cpu", "/"), "cpuacct": ("/sys/fs/cgroup/cpuacct", "/"),
                            "name=systemd": ("/sys/fs/cgroup/systemd", "/")}
    assert mounts["v2"] == ("/sys/fs/cgroup/unified", "/")


def test_parse_mountinfo_shared_cpu_cpuacct_and_pure_v2():
    shared = bench.parse_mountinfo(MOUNTINFO_SHARED_CPU)
    assert shared["v1"]["cpuacct"] == ("/sys/fs/cgroup/cpu,cpuacct", "/")
    assert shared["v1"]["cpu"] == ("/sys/fs/cgroup/cpu,cpuacct", "/")
    assert bench.parse_mountinfo(MOUNTINFO_V2) == {"v1": {}, "v2": ("/sys/fs/cgroup", "/")}


def test_parse_proc_cgroup():
    paths = bench.parse_proc_cgroup(PROC_CGROUP_HYBRID)
    assert paths == {"name=systemd": LIBPOD + "/init.scope", "cpuacct": LIBPOD, "cpu": LIBPOD, "": LIBPOD}
    assert bench.parse_proc_cgroup("3:cpu,cpuacct:/a\n") == {"cpu": "/a", "cpuacct": "/a"}


def test_join_cgroup_strips_the_mount_root():
    assert bench.join_cgroup(("/sys/fs/cgroup/cpuacct", "/"), "/a/b") == "/sys/fs/cgroup/cpuacct/a/b"
    assert bench.join_cgroup(("/sys/fs/cgroup", "/"), "/") == "/sys/fs/cgroup"
    assert bench.join_cgroup(("/sys/fs/cgroup", "/machine.slice"), "/machine.slice/x.scope") == "/sys/fs/cgroup/x.scope"


def test_cpu_counter_candidates_prefer_v1_cpuacct_then_v2():
    mounts = bench.parse_mountinfo(MOUNTINFO_HYBRID)
    proc = bench.parse_proc_cgroup(PROC_CGROUP_HYBRID)
    assert bench.cpu_counter_candidates(mounts, proc, LIBPOD) == [
        (f"/sys/fs/cgroup/cpuacct{LIBPOD}/cpuacct.usage", "v1"),
        (f"/sys/fs/cgroup/unified{LIBPOD}/cpu.stat", "v2"),
    ]


def test_cpu_counter_candidates_v2_leaves_the_init_scope():
    mounts = bench.parse_mountinfo(MOUNTINFO_V2)
    proc = bench.parse_proc_cgroup("0::/machine.slice/libpod-abc.scope/init.scope\n")
    assert bench.cpu_counter_candidates(mounts, proc, "") == [
        ("/sys/fs/cgroup/machine.slice/libpod-abc.scope/cpu.stat", "v2")]
    assert bench.cpu_counter_candidates(mounts, proc, "/machine.slice/libpod-abc.scope/container") == [
        ("/sys/fs/cgroup/machine.slice/libpod-abc.scope/container/cpu.stat", "v2"),
        ("/sys/fs/cgroup/machine.slice/libpod-abc.scope/cpu.stat", "v2"),
    ]


def test_cpu_seconds_from_v1_and_v2_counters():
    assert bench.cpu_seconds("v1", "47547237879\n") == pytest.approx(47.547237879)
    stat = "usage_usec 47804791\nuser_usec 33879355\nsystem_usec 13925435\nnice_usec 0\n"
    assert bench.cpu_seconds("v2", stat) == pytest.approx(47.804791)
    with pytest.raises(ValueError):
        bench.cpu_seconds("v2", "user_usec 1\n")


def test_parse_servers_state_and_readiness():
    servers = bench.parse_servers_state(SERVERS_STATE)
    assert servers == {"web1": (2, 0), "web2": (2, 1), "web3": (0, 0)}
    assert [name for name, state in servers.items() if bench.is_ready(state)] == ["web1"]


def test_histogram_percentile_uses_sysbench_nearest_rank():
    buckets = [(1.0, 1), (2.0, 3), (3.0, 5), (4.0, 1)]
    assert bench.histogram_percentile(buckets, 50) == 3.0   # rank 5: 1, 4, 9 -> third bucket
    assert bench.histogram_percentile(buckets, 95) == 4.0   # rank floor(9.5 + 0.5) = 10
    assert bench.histogram_percentile(buckets, 40) == 2.0   # rank 4
    assert bench.histogram_percentile(buckets, 1) == 1.0    # rank at least 1
    assert bench.histogram_percentile([], 50) is None


def test_parse_sysbench_report():
    result = bench.parse_sysbench(SYSBENCH)
    assert result == {
        "transactions": 33, "tps": 16.44, "seconds": 2.0073, "avg_ms": 2.55, "reported_p95_ms": 3.02,
        # 33 events: p50 rank floor(16.5 + 0.5) = 17, reached in the 2.190 bucket (1 + 4 + 20); p95 rank 31 -> 3.020.
        "p50_ms": 2.190, "p95_ms": 3.020, "ignored_errors": 1, "reconnects": 2,
    }
    # The histogram-derived p95 agrees with sysbench's own.
    assert result["p95_ms"] == result["reported_p95_ms"]


def test_parse_sysbench_without_transactions_is_an_error():
    with pytest.raises(ValueError):
        bench.parse_sysbench("FATAL: unable to connect to MySQL server on host '10.213.77.101', port 3306\n")


def test_parse_ping_ms_and_median():
    assert bench.parse_ping_ms(PING) == [0.065, 0.052, 0.120]


def test_semisync_wait_from_status_snapshots():
    before = bench.parse_status("Rpl_semi_sync_master_tx_wait_time\t5435\nRpl_semi_sync_master_tx_waits\t10\n")
    after = {"Rpl_semi_sync_master_tx_wait_time": "25435", "Rpl_semi_sync_master_tx_waits": "50"}
    assert before == {"Rpl_semi_sync_master_tx_wait_time": "5435", "Rpl_semi_sync_master_tx_waits": "10"}
    assert bench.semisync_wait_ms(before, after) == pytest.approx(0.5)   # 20,000 us over 40 commits
    assert bench.semisync_wait_ms(before, before) is None


def test_systemctl_show_and_cpu_accounting():
    props = bench.parse_systemctl_show("MainPID=6014\nCPUUsageNSec=[not set]\n")
    assert props == {"MainPID": "6014", "CPUUsageNSec": "[not set]"}
    assert bench.systemd_cpu_ns(props["CPUUsageNSec"]) is None
    assert bench.systemd_cpu_ns("18446744073709551615") is None
    assert bench.systemd_cpu_ns("1234567890") == 1234567890
    assert bench.systemd_cpu_ns(None) is None


def test_proc_stat_ticks_counts_threads_and_waited_children():
    assert bench.proc_stat_ticks(PROC_STAT) == 3339 + 451 + 7 + 3
    # A command name with spaces and parentheses does not shift the fields.
    assert bench.proc_stat_ticks(PROC_STAT.replace("(python3)", "(a b) (c)")) == 3800


def test_manager_defaults_read_without_import():
    assert bench.manager_defaults("X = 1\nDEFAULTS = {'tick': 0.25, 'renew_interval': 1.0}\n") == {
        "tick": 0.25, "renew_interval": 1.0}
    assert bench.manager_defaults("X = 1\n") == {}
    with open(bench.AGENT_SOURCE, encoding="utf-8") as handle:
        defaults = bench.manager_defaults(handle.read())
    assert isinstance(defaults.get("tick"), float) and isinstance(defaults.get("renew_interval"), float)


def test_median_of_ignores_missing_figures():
    assert bench.median_of([{"a": 1.0}, {"a": None}, {"a": 3.0}, {}], "a") == 2.0
    assert bench.median_of([{"a": None}], "a") is None
    assert bench.difference(3.0, 1.0) == 2.0 and bench.difference(None, 1.0) is None


def test_password_and_quoting():
    password = bench.random_password()
    assert len(password) == 28
    assert any(c.islower() for c in password) and any(c.isupper() for c in password)
    assert any(c.isdigit() for c in password) and "-" in password
    assert bench.random_password() != password
    assert bench.sql_quote("it's") == "'it''s'"
    assert bench.sql_quote("a\\b") == "'a\\\\b'"


def test_account_sql_is_guarded_and_requires_tls_when_asked():
    account = bench.BenchAccount(user="ha_lamp_bench_ab", password="pw", schema="ha_lamp_bench_ab",
                                 hosts=["10.213.77.1", "10.213.77.11"])
    created = bench.account_sql(account, tls=True)
    assert created.startswith(bench.READ_ONLY_GUARD)
    assert "CREATE DATABASE `ha_lamp_bench_ab`;" in created
    assert created.count("REQUIRE SSL;") == 2
    assert "GRANT ALL PRIVILEGES ON `ha_lamp_bench_ab`.* TO 'ha_lamp_bench_ab'@'10.213.77.11';" in created
    assert "REQUIRE SSL" not in bench.account_sql(account, tls=False)
    dropped = bench.drop_sql(account)
    assert dropped.startswith(bench.READ_ONLY_GUARD)
    assert ("DROP USER IF EXISTS 'ha_lamp_bench_ab'@'10.213.77.1', 'ha_lamp_bench_ab'@'10.213.77.11';\n"
            "DROP DATABASE IF EXISTS `ha_lamp_bench_ab`;\n") in dropped


def test_small_mode_and_bounds():
    args = bench.parse_args(["--small", "--only", "semisync,cpu"])
    assert args.sections == ["cpu", "semisync"]
    assert (args.runs, args.db_seconds, args.agent_seconds, args.db_table_size) == (1, 2, 5, 1000)
    defaults = bench.parse_args([])
    assert defaults.sections == list(bench.SECTIONS) and defaults.runs == 3
    with pytest.raises(SystemExit):
        bench.parse_args(["--db-seconds", "0"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--agent-seconds", "601"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--only", "disk"])
