<?php
// Managed by onprem.ha_lamp.web.
// PHP sessions in the shared database, reached through the VIP, so any web node can serve
// any user and losing a web node loses no session.
//
// Locking: PHP's file handler serialises requests of one session with flock(); this handler
// does the same with a MariaDB named lock (GET_LOCK) held from read() to close(). A named lock
// needs no row to exist (no gap locks, no deadlocks on new sessions) and is released by the
// server if the connection dies.
// Time: expiry uses the database clock (UNIX_TIMESTAMP()), so web nodes with skewed clocks
// agree on what has expired.
// Expired rows are ignored on read and deleted by gc() (the ha-lamp-session-gc timer calls
// gcBatched(); session.gc_probability is 0 so requests never pay for it).
declare(strict_types=1);

final class HaLampSessionHandler implements SessionHandlerInterface, SessionUpdateTimestampHandlerInterface
{
    private ?mysqli $db = null;
    private ?string $lockName = null;
    private string $table;
    private int $lockTimeout;

    public function __construct(array $settings)
    {
        $table = (string) ($settings['table'] ?? 'php_sessions');
        if (preg_match('/^[A-Za-z0-9_]+$/', $table) !== 1) {
            throw new InvalidArgumentException('ha_lamp: invalid session table name');
        }
        $this->table = $table;
        $this->lockTimeout = (int) ($settings['lock_timeout'] ?? 10);
    }

    private function lifetime(): int
    {
        return (int) ini_get('session.gc_maxlifetime');
    }

    // Rows are keyed by the SHA-256 of the session id, never the id itself: a leaked table, a
    // replica or a backup gives no usable session cookie.
    private static function key(string $id): string
    {
        return hash('sha256', $id);
    }

    public function open(string $path, string $name): bool
    {
        try {
            $this->db = HaLampConfig::connectWriter(null, $this->lockTimeout + 5);
            return true;
        } catch (Throwable $e) {
            error_log('ha_lamp session: cannot reach the database: ' . $e->getMessage());
            $this->db = null;
            return false;
        }
    }

    public function close(): bool
    {
        if ($this->db === null) {
            return true;
        }
        try {
            $this->unlock();
            $this->db->close();
        } catch (Throwable $e) {
            error_log('ha_lamp session: close: ' . $e->getMessage());
        }
        $this->db = null;
        return true;
    }

    private function lock(string $id): bool
    {
        // Lock names are limited to 64 characters; hash the id.
        $name = 'ha_lamp_sess:' . sha1($id);
        $stmt = $this->db->prepare('SELECT GET_LOCK(?, ?)');
        $stmt->bind_param('si', $name, $this->lockTimeout);
        $stmt->execute();
        $row = $stmt->get_result()->fetch_row();
        if ($row === null || (int) $row[0] !== 1) {
            return false;
        }
        $this->lockName = $name;
        return true;
    }

    private function unlock(): void
    {
        if ($this->lockName !== null && $this->db !== null) {
            $stmt = $this->db->prepare('SELECT RELEASE_LOCK(?)');
            $stmt->bind_param('s', $this->lockName);
            $stmt->execute();
            $stmt->get_result();
        }
        $this->lockName = null;
    }

    public function read(string $id): string|false
    {
        try {
            if (!$this->lock($id)) {
                error_log('ha_lamp session: lock wait timeout for a session');
                return false;
            }
            $lifetime = $this->lifetime();
            $stmt = $this->db->prepare(
                "SELECT data FROM `{$this->table}` WHERE id = ? AND updated_at >= UNIX_TIMESTAMP() - ?"
            );
            $key = self::key($id);
            $stmt->bind_param('si', $key, $lifetime);
            $stmt->execute();
            $row = $stmt->get_result()->fetch_row();
            return $row === null ? '' : (string) $row[0];
        } catch (Throwable $e) {
            error_log('ha_lamp session: read: ' . $e->getMessage());
            return false;
        }
    }

    public function write(string $id, string $data): bool
    {
        try {
            $stmt = $this->db->prepare(
                "INSERT INTO `{$this->table}` (id, data, updated_at) VALUES (?, ?, UNIX_TIMESTAMP())"
                . ' ON DUPLICATE KEY UPDATE data = VALUES(data), updated_at = VALUES(updated_at)'
            );
            $key = self::key($id);
            $stmt->bind_param('ss', $key, $data);
            return $stmt->execute();
        } catch (Throwable $e) {
            error_log('ha_lamp session: write: ' . $e->getMessage());
            return false;
        }
    }

    public function destroy(string $id): bool
    {
        try {
            $stmt = $this->db->prepare("DELETE FROM `{$this->table}` WHERE id = ?");
            $key = self::key($id);
            $stmt->bind_param('s', $key);
            return $stmt->execute();
        } catch (Throwable $e) {
            error_log('ha_lamp session: destroy: ' . $e->getMessage());
            return false;
        }
    }

    public function gc(int $max_lifetime): int|false
    {
        try {
            return $this->gcBatched($max_lifetime);
        } catch (Throwable $e) {
            error_log('ha_lamp session: gc: ' . $e->getMessage());
            return false;
        }
    }

    // Delete expired rows in small batches so no statement holds many row locks at once.
    public function gcBatched(int $maxLifetime, int $batch = 1000): int
    {
        $stmt = $this->db->prepare(
            "DELETE FROM `{$this->table}` WHERE updated_at < UNIX_TIMESTAMP() - ? LIMIT ?"
        );
        $total = 0;
        do {
            $stmt->bind_param('ii', $maxLifetime, $batch);
            $stmt->execute();
            $deleted = $stmt->affected_rows;
            $total += $deleted;
        } while ($deleted === $batch);
        return $total;
    }

    // session.use_strict_mode: only ids that exist (and have not expired) are accepted;
    // anything else makes PHP issue a fresh id (no session fixation).
    public function validateId(string $id): bool
    {
        try {
            $lifetime = $this->lifetime();
            $stmt = $this->db->prepare(
                "SELECT 1 FROM `{$this->table}` WHERE id = ? AND updated_at >= UNIX_TIMESTAMP() - ?"
            );
            $key = self::key($id);
            $stmt->bind_param('si', $key, $lifetime);
            $stmt->execute();
            return $stmt->get_result()->fetch_row() !== null;
        } catch (Throwable $e) {
            error_log('ha_lamp session: validateId: ' . $e->getMessage());
            return false;
        }
    }

    // Called instead of write() when the data did not change (session.lazy_write).
    public function updateTimestamp(string $id, string $data): bool
    {
        try {
            $stmt = $this->db->prepare("UPDATE `{$this->table}` SET updated_at = UNIX_TIMESTAMP() WHERE id = ?");
            $key = self::key($id);
            $stmt->bind_param('s', $key);
            return $stmt->execute();
        } catch (Throwable $e) {
            error_log('ha_lamp session: updateTimestamp: ' . $e->getMessage());
            return false;
        }
    }

    // For the GC script: open a connection without starting a session.
    public function connect(): void
    {
        $this->db = HaLampConfig::connectWriter();
    }
}
