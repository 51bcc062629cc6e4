<?php
// Managed by onprem.ha_lamp.web.
// GET /healthz for HAProxy. Answering at all proves Apache -> proxy_fcgi -> PHP-FPM works.
//   503 "drained"        the drain flag file exists (maintenance: take no new requests)
//   503 "db unreachable" the writer (VIP:3306) did not answer connect + SELECT 1 within the timeout
//   200 "ok"             otherwise
// The body is one short line; the status code is what HAProxy checks.
declare(strict_types=1);

header('Content-Type: text/plain; charset=utf-8');
header('Cache-Control: no-store');

try {
    $config = HaLampConfig::get();
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
$started = microtime(true);
try {
    $db = HaLampConfig::connectWriter($timeout, $timeout);
    $db->query('SELECT 1')->free();
    $db->close();
} catch (Throwable $e) {
    http_response_code(503);
    printf("db unreachable (%.0f ms)\n", (microtime(true) - $started) * 1000);
    error_log('ha_lamp healthz: database writer unreachable: ' . $e->getMessage());
    exit;
}

http_response_code(200);
printf("ok node=%s db=%.0fms\n", HaLampConfig::node(), (microtime(true) - $started) * 1000);
