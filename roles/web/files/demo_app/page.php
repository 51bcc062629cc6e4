<?php
// ha_lamp demo application: the read-mostly page, what most page views of a real LAMP site are.
// It reads the visitor's session without locking it for the request or writing it back
// (session_start read_and_close), then reads its content through the VIP's readers port
// (HAProxy :3307, replicas within the lag bound), falling back once to the writer port like
// read.php, and prints key=value lines like read.php plus the session's visit count. Nothing is
// written on this path: no visits row, no session write, no session timestamp refresh.
// Only a visitor who sent a session cookie has a session read: an anonymous visitor costs no
// session connection and gets no cookie. Reading never extends a session: it still expires
// web_session_lifetime after its last write (index.php) or timestamp refresh.
// With no database at all it fails fast like read.php: 503 "database readers unavailable, retry".
// The session is read from the writer port (the newest data; a replica may lag behind a write
// the visitor just made): during a writer gap the page still answers, with session=unavailable.
// Every answer carries a Server-Timing header (phases in ms), like index.php.
declare(strict_types=1);

require_once __DIR__ . '/common.php';
require_once __DIR__ . '/PhaseClock.php';

$clock = new PhaseClock();
// The visitor's session, read and closed at once: the session lock is held only while it is read,
// and PHP calls neither write() nor updateTimestamp(). Returns [state, visit count]; state is
// none (no session cookie), read, replaced (unknown or expired id: strict mode issued a new one,
// which holds nothing) or unavailable (the session storage did not answer).
function read_session(PhaseClock $clock): array
{
    $cookie = $_COOKIE[session_name()] ?? null;
    if (!is_string($cookie) || $cookie === '') {
        return ['none', 0];
    }
    $started = @session_start(['read_and_close' => true]);
    $clock->lap('session-read', session_phases());
    if (!$started) {
        error_log('ha_lamp demo page: session_start() failed (session storage unreachable)');
        return ['unavailable', 0];
    }
    if (session_id() !== $cookie) {
        return ['replaced', 0];
    }
    return ['read', (int) ($_SESSION['count'] ?? 0)];
}

// The readers port first, then once the writer port (the primary as a reader of last resort),
// each bounded by web_db_read_connect_timeout for connect and handshake, as read.php does.
// Returns [via, db node, latest visit row] or null, with the reasons in $errors.
function read_content(PhaseClock $clock, array &$errors): ?array
{
    try {
        $timeout = (int) (HaLampConfig::get()['db']['read_connect_timeout'] ?? 1);
    } catch (Throwable $e) {
        $errors[] = 'config: ' . $e->getMessage();
        return null;
    }
    foreach (['reader' => 'connectReader', 'writer' => 'connectWriter'] as $via => $connect) {
        try {
            $db = HaLampConfig::$connect($timeout, $timeout);
        } catch (Throwable $e) {
            $errors[] = "$via: " . $e->getMessage();
            continue;
        } finally {
            $clock->lap('db-connect');
        }
        try {
            return [$via, ...read_latest($db)];
        } catch (Throwable $e) {
            $errors[] = "$via: " . $e->getMessage();
        } finally {
            $db->close();
            $clock->lap('select');
        }
    }
    return null;
}

[$session, $sessionCount] = read_session($clock);
$errors = [];
$result = read_content($clock, $errors);

if ($result === null) {
    http_response_code(503);
    header('Retry-After: 1');
    $clock->send();
    echo "web_node={$node}\nrelease={$release}\nerror=database readers unavailable, retry\n";
    error_log('ha_lamp demo page: ' . implode('; ', $errors));
    exit;
}

[$via, $dbNode, $row] = $result;
$clock->send();
print_latest($node, $dbNode, $via, $release, $row);
echo "session={$session}\n";
echo "session_count={$sessionCount}\n";
