<?php
// Managed by onprem.ha_lamp.web.
// GET /healthz for HAProxy. Answering at all proves Apache -> proxy_fcgi -> PHP-FPM works.
//   503 "drained"        the drain flag file exists (maintenance: take no new requests)
//   503 "db unreachable" the writer did not answer connect + SELECT 1 within the timeout
// When a load balancer asks, the writer is reached through that load balancer's own address (every
// HAProxy serves :3306), otherwise through the VIP. While the VIP moves after a load balancer died,
// the survivor's checks still pass, so it does not mark every web node down on top of the VIP move.
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
$asker = (string) ($_SERVER['REMOTE_ADDR'] ?? '');
$viaLoadBalancer = in_array($asker, (array) ($config['healthz']['load_balancers'] ?? []), true) ? $asker : null;
$started = microtime(true);
try {
    $db = HaLampConfig::connectWriter($timeout, $timeout, $viaLoadBalancer);
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
