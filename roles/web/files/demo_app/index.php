<?php
// ha_lamp demo application.
// Each request: continues the (shared, database-backed) PHP session, writes one row into
// ha_lamp_app.visits through the VIP writer, reads it back and prints which web node, which
// database node and which release answered, as key=value lines for scripts and probes.
// Without a writer (a switchover fence, a failover) it fails fast: 503 "database writer
// unavailable, retry" within about web_db_connect_timeout (2 s), never a hung worker. The
// read-only page read.php keeps answering from the readers port meanwhile.
declare(strict_types=1);

header('Content-Type: text/plain; charset=utf-8');
header('Cache-Control: no-store');

// The release id is the name of the release directory, written by the role into REVISION.
$revisionFile = __DIR__ . '/REVISION';
$release = is_readable($revisionFile) ? trim((string) file_get_contents($revisionFile)) : basename(__DIR__);
$node = getenv('HA_LAMP_NODE') ?: gethostname();

function writer_unavailable(string $node, string $release, string $why): never
{
    http_response_code(503);
    header('Retry-After: 1');
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
} catch (Throwable $e) {
    writer_unavailable($node, $release, $e->getMessage());
}

if (!@session_start()) {
    writer_unavailable($node, $release, 'session_start() failed (session storage unreachable)');
}
$_SESSION['count'] = (int) ($_SESSION['count'] ?? 0) + 1;
$sessionCount = $_SESSION['count'];
$sessionId = session_id();
// Release the session lock before the slower work below.
session_write_close();

function record_visit(mysqli $db, string $node, string $release, string $sessionId): int
{
    $stmt = $db->prepare('INSERT INTO visits (web_node, release_id, session_id) VALUES (?, ?, ?)');
    $stmt->bind_param('sss', $node, $release, $sessionId);
    $stmt->execute();
    return (int) $db->insert_id;
}

try {
    // The visits table is created at deploy (web role, tasks/schema.yml, as the schema owner):
    // this account has no DDL, so no request can create, alter or drop a table.
    $visitId = record_visit($db, $node, $release, $sessionId);
    $stmt = $db->prepare('SELECT web_node, (SELECT @@hostname), (SELECT COUNT(*) FROM visits) FROM visits WHERE id = ?');
    $stmt->bind_param('i', $visitId);
    $stmt->execute();
    [$storedNode, $dbNode, $visits] = $stmt->get_result()->fetch_row();
    $db->close();
} catch (Throwable $e) {
    // The writer went away mid-request, or was fenced (1290 read-only): same answer, retry.
    writer_unavailable($node, $release, $e->getMessage());
}

echo "web_node={$node}\n";
echo "db_node={$dbNode}\n";
echo "release={$release}\n";
echo "visits={$visits}\n";
echo "visit_id={$visitId}\n";
echo "visit_read_back=" . ($storedNode === $node ? 'ok' : 'mismatch') . "\n";
echo "session_count={$sessionCount}\n";
echo "session_id={$sessionId}\n";
echo 'client_ip=' . ($_SERVER['REMOTE_ADDR'] ?? '') . "\n";
