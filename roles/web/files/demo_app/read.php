<?php
// ha_lamp demo application: the read-only page.
// Reads the latest visit through the VIP's readers port (HAProxy :3307, replicas within the lag
// bound) and prints it as key=value lines, like index.php. It starts no session and writes
// nothing, so it keeps answering 200 while the database writer is missing (a switchover fence,
// a failover). When the readers port has no replica to offer, it falls back once to the writer
// port (the primary as a reader of last resort). Both connections fail fast: connect and
// handshake are bounded by web_db_read_connect_timeout (1 s by default).
declare(strict_types=1);

header('Content-Type: text/plain; charset=utf-8');
header('Cache-Control: no-store');

$revisionFile = __DIR__ . '/REVISION';
$release = is_readable($revisionFile) ? trim((string) file_get_contents($revisionFile)) : basename(__DIR__);
$node = getenv('HA_LAMP_NODE') ?: gethostname();

function read_latest(mysqli $db): array
{
    $dbNode = (string) $db->query('SELECT @@hostname')->fetch_row()[0];
    try {
        // Primary-key lookup: constant cost however large visits grows.
        $row = $db->query('SELECT id, web_node, created_at FROM visits ORDER BY id DESC LIMIT 1')->fetch_row();
    } catch (mysqli_sql_exception $e) {
        if ($e->getCode() !== 1146) { // ER_NO_SUCH_TABLE: nobody has visited index.php yet.
            throw $e;
        }
        $row = null;
    }
    return [$dbNode, $row];
}

$errors = [];
$result = null;
try {
    $timeout = (int) (HaLampConfig::get()['db']['read_connect_timeout'] ?? 1);
    foreach (['reader' => 'connectReader', 'writer' => 'connectWriter'] as $via => $connect) {
        try {
            $db = HaLampConfig::$connect($timeout, $timeout);
            try {
                $result = [$via, ...read_latest($db)];
            } finally {
                $db->close();
            }
            break;
        } catch (Throwable $e) {
            $errors[] = "$via: " . $e->getMessage();
        }
    }
} catch (Throwable $e) {
    $errors[] = 'config: ' . $e->getMessage();
}

if ($result === null) {
    http_response_code(503);
    header('Retry-After: 1');
    echo "web_node={$node}\nrelease={$release}\nerror=database readers unavailable, retry\n";
    error_log('ha_lamp demo read: ' . implode('; ', $errors));
    exit;
}

[$via, $dbNode, $row] = $result;
echo "web_node={$node}\n";
echo "db_node={$dbNode}\n";
echo "read_via={$via}\n";
echo "release={$release}\n";
if ($row === null) {
    echo "last_visit_id=none\n";
} else {
    echo "last_visit_id={$row[0]}\n";
    echo "last_visit_node={$row[1]}\n";
    echo "last_visit_at={$row[2]}\n";
}
