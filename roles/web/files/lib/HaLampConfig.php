<?php
// Managed by onprem.ha_lamp.web.
// Runtime configuration written by the role (JSON, outside every release) and the one way
// PHP code here opens a database connection: always the VIP, always with short timeouts,
// so a dead database costs a request seconds, not minutes.
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
    public static function connectWriter(?int $connectTimeout = null, ?int $readTimeout = null, ?string $host = null): mysqli
    {
        $db = self::get()['db'];
        $connectTimeout = $connectTimeout ?? (int) ($db['connect_timeout'] ?? 2);
        $readTimeout = $readTimeout ?? 30;
        mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
        $link = mysqli_init();
        $link->options(MYSQLI_OPT_CONNECT_TIMEOUT, max($connectTimeout, 1));
        $link->options(MYSQLI_OPT_READ_TIMEOUT, max($readTimeout, 1));
        $link->real_connect(
            $host ?? (string) $db['host'],
            (string) $db['user'],
            (string) $db['password'],
            (string) $db['name'],
            (int) $db['port']
        );
        $link->set_charset('utf8mb4');
        return $link;
    }
}
