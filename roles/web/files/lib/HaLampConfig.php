<?php
// Managed by onprem.ha_lamp.web.
// Runtime configuration written by the role (JSON, outside every release) and the one way
// PHP code here opens a database connection: always the VIP (writer port or readers port),
// always with short timeouts, so a dead database costs a request seconds, not minutes.
declare(strict_types=1);

final class HaLampConfig
{
    private static ?array $config = null;

    public static function path(): string
    {
        $path = getenv('HA_LAMP_CONFIG');
        return ($path !== false && $path !== '') ? $path : '/etc/ha-lamp/app.json';
    }

    public static function get(): array
    {
        if (self::$config === null) {
            $raw = @file_get_contents(self::path());
            $data = ($raw === false) ? null : json_decode($raw, true);
            if (!is_array($data)) {
                throw new RuntimeException('ha_lamp: cannot read configuration ' . self::path());
            }
            self::$config = $data;
        }
        return self::$config;
    }

    public static function node(): string
    {
        $node = getenv('HA_LAMP_NODE');
        return ($node !== false && $node !== '') ? $node : (string) (self::get()['node'] ?? gethostname());
    }

    // Connect to the writer through the VIP. The connect timeout bounds the TCP connect, the
    // read timeout the handshake and every later query, so a black-holed address or a stuck
    // server cannot hang a PHP worker. Throws mysqli_sql_exception on failure.
    // $host overrides the VIP (the health check asks through the load balancer that checks it).
    // Behind HAProxy the TCP connect always succeeds at once (HAProxy accepts it); a missing
    // writer shows up in the handshake: HAProxy closes at once when no writer is UP, or the
    // greeting never comes while it still tries a dead one. Callers that must fail fast pass a
    // short read timeout (it is the handshake bound).
    public static function connectWriter(?int $connectTimeout = null, ?int $readTimeout = null, ?string $host = null): mysqli
    {
        return self::connectPort((int) self::get()['db']['port'], $connectTimeout, $readTimeout, $host);
    }

    // Connect to the readers port of the VIP (HAProxy :3307: replicas within the lag bound).
    // Same timeouts and errors as connectWriter(). Reads served here keep working while the
    // writer is missing (switchover fence, failover).
    public static function connectReader(?int $connectTimeout = null, ?int $readTimeout = null, ?string $host = null): mysqli
    {
        return self::connectPort(self::readPort(), $connectTimeout, $readTimeout, $host);
    }

    public static function readPort(): int
    {
        $db = self::get()['db'];
        return (int) ($db['read_port'] ?? 3307);
    }

    // Whether a TCP connection to $host:$port opens within $timeout seconds (fractions allowed).
    // Returns null when it does, else the error text. Nothing is sent: against HAProxy this proves
    // only the network path from this node to the load balancer, whatever the database servers
    // behind it are doing.
    public static function tcpError(string $host, int $port, float $timeout): ?string
    {
        $errno = 0;
        $errstr = '';
        $target = (strpos($host, ':') !== false) ? '[' . $host . ']' : $host;
        $socket = @stream_socket_client(
            'tcp://' . $target . ':' . $port,
            $errno,
            $errstr,
            max($timeout, 0.05)
        );
        if ($socket === false) {
            return sprintf('%s:%d %s', $host, $port, $errstr !== '' ? $errstr : "error $errno");
        }
        fclose($socket);
        return null;
    }

    private static function connectPort(int $port, ?int $connectTimeout, ?int $readTimeout, ?string $host): mysqli
    {
        $db = self::get()['db'];
        $connectTimeout = $connectTimeout ?? (int) ($db['connect_timeout'] ?? 2);
        $readTimeout = $readTimeout ?? 30;
        mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
        $link = mysqli_init();
        $link->options(MYSQLI_OPT_CONNECT_TIMEOUT, max($connectTimeout, 1));
        $link->options(MYSQLI_OPT_READ_TIMEOUT, max($readTimeout, 1));
        $flags = 0;
        $tls = (array) ($db['tls'] ?? []);
        if (!empty($tls['enabled'])) {
            // TLS to MariaDB, verified against the cluster's CA. HAProxy passes 3306/3307 through in
            // TCP mode, so the certificate is the database node's. mysqlnd has no "CA only" mode:
            // when it verifies, it also checks the name against the address connected to (the DB
            // VIP), so the database certificates carry the VIP as a SAN. verify_server_cert false
            // keeps the encryption but skips both checks.
            $link->ssl_set(null, null, (string) $tls['ca'], null, null);
            $flags = MYSQLI_CLIENT_SSL | (($tls['verify_server_cert'] ?? true)
                ? MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT : MYSQLI_CLIENT_SSL_DONT_VERIFY_SERVER_CERT);
        }
        // "@": mysqlnd also raises a warning ("Error while reading greeting packet") before the
        // exception; the callers log the exception once, with context.
        @$link->real_connect(
            $host ?? (string) $db['host'],
            (string) $db['user'],
            (string) $db['password'],
            (string) $db['name'],
            $port,
            null,
            $flags
        );
        $link->set_charset('utf8mb4');
        return $link;
    }
}
