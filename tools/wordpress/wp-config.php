<?php
// wp-config.php of the onprem.ha_lamp WordPress release (tools/wordpress/build-release.sh).
// Nothing secret or host-specific lives in the release: the database, the TLS settings, the site
// URL and the secret the salts are derived from come from the web role's runtime configuration
// /etc/ha-lamp/app.json ("db" from the role, "settings" from web_app_settings), so the same
// immutable release runs on every web node and every environment.

// The pool's auto_prepend_file (bootstrap.php) has loaded HaLampConfig already; a CLI run has not.
if (!class_exists('HaLampConfig')) {
    require_once '/usr/local/share/ha-lamp/HaLampConfig.php';
}

// A broken configuration stops every request with one clear line in the error log, not with
// WordPress's installer or a half-configured site.
function ha_lamp_wp_config_fail(string $why): void
{
    error_log('ha_lamp wp-config.php: ' . $why);
    if (PHP_SAPI !== 'cli') {
        http_response_code(500);
        header('Content-Type: text/plain; charset=utf-8');
        header('Cache-Control: no-store');
    }
    echo (PHP_SAPI === 'cli') ? $why . "\n" : "WordPress is not configured on this node; see the web server's error log.\n";
    exit(1);
}

try {
    $ha_lamp_config = HaLampConfig::get();
} catch (Throwable $e) {
    ha_lamp_wp_config_fail($e->getMessage());
}
$ha_lamp_db = (array) ($ha_lamp_config['db'] ?? []);
$ha_lamp_settings = (array) ($ha_lamp_config['settings'] ?? []);

foreach (['host', 'port', 'name', 'user', 'password'] as $ha_lamp_key) {
    if (!isset($ha_lamp_db[$ha_lamp_key]) || (string) $ha_lamp_db[$ha_lamp_key] === '') {
        ha_lamp_wp_config_fail("db.$ha_lamp_key is missing in " . HaLampConfig::path());
    }
}
$ha_lamp_secret = (string) ($ha_lamp_settings['wordpress_secret'] ?? '');
if (strlen($ha_lamp_secret) < 32) {
    ha_lamp_wp_config_fail('settings.wordpress_secret in ' . HaLampConfig::path()
        . ' is missing or shorter than 32 characters (set web_app_settings.wordpress_secret, from a vault)');
}
$ha_lamp_site_url = rtrim((string) ($ha_lamp_settings['site_url'] ?? ''), '/');
if (!preg_match('#^https?://[^/\s]+(/\S*)?$#', $ha_lamp_site_url)) {
    ha_lamp_wp_config_fail('settings.site_url in ' . HaLampConfig::path() . " is not an http(s) URL: '"
        . $ha_lamp_site_url . "' (set web_app_settings.site_url, e.g. https://www.example.net)");
}
$ha_lamp_prefix = (string) ($ha_lamp_settings['table_prefix'] ?? 'wp_');
if (!preg_match('/^[A-Za-z0-9_]+$/', $ha_lamp_prefix)) {
    ha_lamp_wp_config_fail("settings.table_prefix '" . $ha_lamp_prefix . "' may hold only letters, digits and _");
}

// The database: always the VIP's writer port (HAProxy follows the primary), never a node.
$ha_lamp_host = (string) $ha_lamp_db['host'];
define('DB_NAME', (string) $ha_lamp_db['name']);
define('DB_USER', (string) $ha_lamp_db['user']);
define('DB_PASSWORD', (string) $ha_lamp_db['password']);
define('DB_HOST', (strpos($ha_lamp_host, ':') !== false ? '[' . $ha_lamp_host . ']' : $ha_lamp_host)
    . ':' . (int) $ha_lamp_db['port']);
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');

// TLS to MariaDB. wpdb passes MYSQL_CLIENT_FLAGS to mysqli_real_connect() but never calls
// mysqli_ssl_set(), so it cannot name a CA. With MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT, mysqlnd
// verifies the server against PHP's openssl.cafile when no CA was set; the role's CA therefore
// has to be the pool's openssl.cafile (web_php_admin_values: {openssl.cafile: <db.tls.ca>}).
// Checked here, because the alternative is an opaque "Error establishing a database connection".
// mysqlnd checks the name too: the database certificates carry the DB VIP (as for HaLampConfig).
$ha_lamp_tls = (array) ($ha_lamp_db['tls'] ?? []);
if (!extension_loaded('mysqli')) {
    ha_lamp_wp_config_fail('the PHP mysqli extension is not loaded (web_php_packages: php<ver>-mysql)');
}
if (!empty($ha_lamp_tls['enabled'])) {
    if ($ha_lamp_tls['verify_server_cert'] ?? true) {
        $ha_lamp_ca = (string) ($ha_lamp_tls['ca'] ?? '');
        $ha_lamp_cafile = (string) ini_get('openssl.cafile');
        if ($ha_lamp_ca === '' || $ha_lamp_cafile !== $ha_lamp_ca) {
            ha_lamp_wp_config_fail("database TLS is verified against db.tls.ca '" . $ha_lamp_ca
                . "', but PHP's openssl.cafile is '" . $ha_lamp_cafile . "'; set web_php_admin_values: "
                . "{openssl.cafile: '" . $ha_lamp_ca . "'} (CLI: php -d openssl.cafile=" . $ha_lamp_ca . ')');
        }
        define('MYSQL_CLIENT_FLAGS', MYSQLI_CLIENT_SSL | MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT);
    } else {
        // Encrypted, server not authenticated (web_db_tls_verify_server_cert: false).
        define('MYSQL_CLIENT_FLAGS', MYSQLI_CLIENT_SSL | MYSQLI_CLIENT_SSL_DONT_VERIFY_SERVER_CERT);
    }
}

// Keys and salts: identical on every web node (a login cookie made by web1 is valid on web2),
// derived from one secret so app.json carries one value instead of eight.
foreach (['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY',
          'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT'] as $ha_lamp_key) {
    define($ha_lamp_key, hash_hmac('sha256', 'wordpress ' . $ha_lamp_key, $ha_lamp_secret));
}

// The public address is the VIP's name, whichever node answers.
define('WP_HOME', $ha_lamp_site_url);
define('WP_SITEURL', $ha_lamp_site_url);
// HAProxy terminates TLS and says so in X-Forwarded-Proto; without this WordPress would build
// http:// links and loop on redirects behind an https frontend.
if (strtolower((string) ($_SERVER['HTTP_X_FORWARDED_PROTO'] ?? '')) === 'https') {
    $_SERVER['HTTPS'] = 'on';
}
if (strpos($ha_lamp_site_url, 'https://') === 0) {
    define('FORCE_SSL_ADMIN', true);
}

// Uploads go to <release>/uploads, the role's link to the shared uploads path (web_app_uploads_link),
// so every node sees every file. Releases are root-owned and immutable: no plugin, theme or core
// change from the dashboard; new code comes as a new release.
define('UPLOADS', 'uploads');
define('DISALLOW_FILE_MODS', true);
define('DISALLOW_FILE_EDIT', true);
define('WP_AUTO_UPDATE_CORE', false);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', false);

$table_prefix = $ha_lamp_prefix;

unset($ha_lamp_config, $ha_lamp_db, $ha_lamp_settings, $ha_lamp_secret, $ha_lamp_site_url, $ha_lamp_prefix,
    $ha_lamp_host, $ha_lamp_tls, $ha_lamp_ca, $ha_lamp_cafile, $ha_lamp_key);

if (!defined('ABSPATH')) {
    define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
