<?php
// Managed by onprem.ha_lamp.web.
// Prepended to every PHP request of the pool (php_admin_value[auto_prepend_file]).
// It only registers the shared session handler; nothing connects to the database
// until a script actually calls session_start().
declare(strict_types=1);

require_once __DIR__ . '/HaLampConfig.php';
require_once __DIR__ . '/HaLampSessionHandler.php';

(static function (): void {
    try {
        $config = HaLampConfig::get();
    } catch (Throwable $e) {
        error_log($e->getMessage());
        return;
    }
    if (!empty($config['sessions']['enabled']) && session_status() === PHP_SESSION_NONE) {
        session_set_save_handler(new HaLampSessionHandler($config['sessions']), true);
    }
})();
