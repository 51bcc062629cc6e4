<?php
// ha_lamp demo application.
// Each request: continues the (shared, database-backed) PHP session, writes one row into
// ha_lamp_app.visits through the VIP writer, reads it back and prints which web node, which
// database node and which release answered, as key=value lines for scripts and probes.
// Without a writer (a switchover fence, a failover) it fails fast: 503 "database writer
// unavailable, retry" within about web_db_connect_timeout (2 s), never a hung worker. The
// read-only page read.php keeps answering from the readers port meanwhile.
// Every answer carries a Server-Timing header with the duration of each phase (ms), so a load
// test can tell what bounds the page (benchmarks/bench_pages.py); page.php is the read-mostly page.
declare(strict_types=1);

require_once __DIR__ . '/common.php';
require_once __DIR__ . '/PhaseClock.php';

$clock = new PhaseClock();

function writer_unavailable(PhaseClock $clock, string $node, string $release, string $why): never
{
    http_response_code(503);
    header('Retry-After: 1');
    $clock->send();
    echo "web_node={$node}\nrelease={$release}\nerror=database writer unavailable, retry\n";
    error_log('ha_lamp demo: database writer unavailable: ' . $why);
    exit;
}

// The writer first, with connect AND handshake/query bounded by the connect timeout: behind
// HAProxy the TCP connect always succeeds, a missing writer shows in the handshake (HAProxy
// closes at once when no writer is UP, or the greeting never comes while it still tries a
// dead one). A single-row autocommit write that takes longer than that is treated as
// unavailable too (retry) rather than holding the worker. Only then the session, whose own
// connection waits longer on purpose (session lock).
try {
    $timeout = (int) (HaLampConfig::get()['db']['connect_timeout'] ?? 2);
    $db = HaLampConfig::connectWriter($timeout, $timeout);
    $clock->lap('db-connect');
} catch (Throwable $e) {
    $clock->lap('db-connect');
    writer_unavailable($clock, $node, $release, $e->getMessage());
}

$sessionStarted = @session_start();
$clock->lap('session-read', session_phases());
if (!$sessionStarted) {
    writer_unavailable($clock, $node, $release, 'session_start() failed (session storage unreachable)');
}
$_SESSION['count'] = (int) ($_SESSION['count'] ?? 0) + 1;
$sessionCount = $_SESSION['count'];
$sessionId = session_id();
// Release the session lock before the slower work below.
session_write_close();
$clock->lap('session-write', session_phases());

function record_visit(mysqli $db, string $node, string $release, string $sessionId): int
{
    $stmt = $db->prepare('INSERT INTO visits (web_node, release_id, session_id) VALUES (?, ?, ?)');
    $stmt->bind_param('sss', $node, $release, $sessionId);
    $stmt->execute();
    return (int) $db->insert_id;
}

$phase = 'insert';
try {
    // The visits table is created at deploy (web role, tasks/schema.yml, as the schema owner):
    // this account has no DDL, so no request can create, alter or drop a table.
    $visitId = record_visit($db, $node, $release, $sessionId);
    $clock->lap($phase);
    $phase = 'select';
    // COUNT(*) reads the whole visits table (InnoDB keeps no row count): its cost grows with every
    // visit, which the select phase of Server-Timing shows.
    $stmt = $db->prepare('SELECT web_node, (SELECT @@hostname), (SELECT COUNT(*) FROM visits) FROM visits WHERE id = ?');
    $stmt->bind_param('i', $visitId);
    $stmt->execute();
    [$storedNode, $dbNode, $visits] = $stmt->get_result()->fetch_row();
    $db->close();
    $clock->lap($phase);
} catch (Throwable $e) {
    // The writer went away mid-request, or was fenced (1290 read-only): same answer, retry.
    $clock->lap($phase);
    writer_unavailable($clock, $node, $release, $e->getMessage());
}

$clock->send();

echo "web_node={$node}\n";
echo "db_node={$dbNode}\n";
echo "release={$release}\n";
echo "visits={$visits}\n";
echo "visit_id={$visitId}\n";
echo "visit_read_back=" . ($storedNode === $node ? 'ok' : 'mismatch') . "\n";
echo "session_count={$sessionCount}\n";
echo "session_id={$sessionId}\n";
echo 'client_ip=' . ($_SERVER['REMOTE_ADDR'] ?? '') . "\n";
