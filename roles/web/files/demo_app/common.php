<?php
// ha_lamp demo application: what every page shares. Plain text key=value answers, never cached; the
// release id (the name of the release directory, written by the role into REVISION) and the web node.
declare(strict_types=1);

header('Content-Type: text/plain; charset=utf-8');
header('Cache-Control: no-store');

$revisionFile = __DIR__ . '/REVISION';
$release = is_readable($revisionFile) ? trim((string) file_get_contents($revisionFile)) : basename(__DIR__);
$node = getenv('HA_LAMP_NODE') ?: gethostname();

// The database's name and the latest visit (read.php and page.php).
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

// The latest visit as key=value lines.
function print_latest(string $node, string $dbNode, string $via, string $release, ?array $row): void
{
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
}
