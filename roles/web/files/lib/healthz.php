<?php
// Managed by onprem.ha_lamp.web.
// GET /healthz for HAProxy. Answering at all proves Apache -> proxy_fcgi -> PHP-FPM works.
//
// The rule: /healthz fails only for faults of THIS web node, never for faults of the database
// tier. A database fault (a writer gap during a switchover or failover, no replica in the
// readers pool) is the same for every web node: failing /healthz for it would make HAProxy take
// the whole web tier out, and even static files and read-only pages would get 503.
//
//   503 "fail config"     the runtime configuration cannot be read
//   503 "drained"         the drain flag file exists (maintenance: take no new requests)
//   503 "db unreachable"  this node cannot open a TCP connection to the database front door (the
//                         DB VIP: HAProxy serves the database on it only): neither its readers
//                         port (3307) nor its writer port (3306) accepts within
//                         web_healthz_db_timeout. HAProxy accepts a TCP connection on its own,
//                         whatever the database servers behind it do, so this fails when this
//                         node's own path is cut (its network, its firewall) - and, for every web
//                         node alike, while the VIP moves to the other load balancer.
//   200 "ok"              otherwise, and the writer answered connect + SELECT 1
//   200 "degraded: no writer"
//                         the front door is reachable but the writer did not answer: a database
//                         writer gap. The node stays in service for static files and read-only
//                         pages; pages that write answer 503 quickly on their own.
// There is no grace period here: HAProxy's "fall" (2 checks, 1 s apart) already is one, and
// one PHP request cannot cheaply remember earlier ones.
// Time budget: the TCP checks take milliseconds on a LAN, the writer check at most the timeout
// (1 s), so a degraded answer still comes well within HAProxy's check timeout (2 s).
// The body is one short line without the node's name; the status code is what HAProxy checks.
// Apache answers /healthz only to the load balancers and the node itself (vhost Require ip).
declare(strict_types=1);

header('Content-Type: text/plain; charset=utf-8');
header('Cache-Control: no-store');

try {
    $config = HaLampConfig::get();
    $host = (string) $config['db']['host'];
    $writerPort = (int) $config['db']['port'];
    $readerPort = HaLampConfig::readPort();
} catch (Throwable $e) {
    http_response_code(503);
    echo "fail config\n";
    exit;
}

$drainFile = (string) ($config['healthz']['drain_file'] ?? '/etc/ha-lamp/drain');
clearstatcache(true, $drainFile);
if (file_exists($drainFile)) {
    http_response_code(503);
    echo "drained\n";
    exit;
}

$timeout = (int) ($config['healthz']['db_timeout'] ?? 1);
$frontDoor = $host;
$started = microtime(true);

// 1. This node's own path to the database front door (readers port first: it is the path that
// survives a writer gap; the writer port only when the readers port does not answer).
$readerError = HaLampConfig::tcpError($frontDoor, $readerPort, (float) $timeout);
if ($readerError !== null) {
    $writerError = HaLampConfig::tcpError($frontDoor, $writerPort, (float) $timeout);
    if ($writerError !== null) {
        http_response_code(503);
        printf("db unreachable (%.0f ms)\n", (microtime(true) - $started) * 1000);
        error_log("ha_lamp healthz: no TCP path to the database front door: $readerError; $writerError");
        exit;
    }
}

// 2. The writer, for the marker only: its absence is the database tier's fault, not this node's.
try {
    $db = HaLampConfig::connectWriter($timeout, $timeout);
    $db->query('SELECT 1')->free();
    $db->close();
} catch (Throwable $e) {
    http_response_code(200);
    printf("degraded: no writer (%.0f ms)\n", (microtime(true) - $started) * 1000);
    error_log('ha_lamp healthz: degraded, database writer unreachable: ' . $e->getMessage());
    exit;
}

http_response_code(200);
if ($readerError !== null) {
    // Only the readers port is unreachable from here: writes work, reads fall back to the writer.
    printf("degraded: no reader path db=%.0fms\n", (microtime(true) - $started) * 1000);
    error_log("ha_lamp healthz: degraded, readers port unreachable: $readerError");
    exit;
}
printf("ok db=%.0fms\n", (microtime(true) - $started) * 1000);
