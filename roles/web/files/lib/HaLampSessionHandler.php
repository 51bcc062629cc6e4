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
// Writes: a session is written only when its data changed (write()); an unchanged session's
// timestamp is refreshed at most once per refresh interval (updateTimestamp()), so a page that
// only reads its session costs no commit on most requests.
declare(strict_types=1);

final class HaLampSessionHandler implements SessionHandlerInterface, SessionUpdateTimestampHandlerInterface
{
    private ?mysqli $db = null;
    private ?string $lockName = null;
    private string $table;
    private int $lockTimeout;
    // What read() saw, for updateTimestamp(): the row key it looked up and that row's age in
    // seconds on the database clock (null: no live row). Cleared by close().
    private ?string $readKey = null;
    private ?int $readAge = null;

    // Upper bound (s) of the interval within which an unchanged session is not touched again.
    private const TOUCH_INTERVAL_MAX = 60;

    // Time spent (ms) connecting and waiting for the session lock, for the pages' Server-Timing
    // header. Static: bootstrap.php registers the handler, the page has no reference to it.
    private static array $phaseMs = [];

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

    // The durations measured since the last call (ms by phase name), then forgets them: a page
    // takes them after session_start() and again after session_write_close().
    public static function takePhaseTimings(): array
    {
        $taken = self::$phaseMs;
        self::$phaseMs = [];
        return $taken;
    }

    private static function addPhaseTime(string $phase, int $startedNs): void
    {
        self::$phaseMs[$phase] = (self::$phaseMs[$phase] ?? 0.0) + (hrtime(true) - $startedNs) / 1e6;
    }

    public function open(string $path, string $name): bool
    {
        $started = hrtime(true);
        try {
            $this->db = HaLampConfig::connectWriter(null, $this->lockTimeout + 5);
            return true;
        } catch (Throwable $e) {
            error_log('ha_lamp session: cannot reach the database: ' . $e->getMessage());
            $this->db = null;
            return false;
        } finally {
            self::addPhaseTime('session-connect', $started);
        }
    }

    public function close(): bool
    {
        $this->forgetRead();
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
        $started = hrtime(true);
        try {
            $stmt = $this->db->prepare('SELECT GET_LOCK(?, ?)');
            $stmt->bind_param('si', $name, $this->lockTimeout);
            $stmt->execute();
            $row = $stmt->get_result()->fetch_row();
        } finally {
            self::addPhaseTime('session-lock', $started);
        }
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
            // updated_at and the clock it is compared with come back too (the age is computed here:
            // in SQL, UNSIGNED minus a later value is an error, not a negative number).
            $stmt = $this->db->prepare(
                "SELECT data, updated_at, UNIX_TIMESTAMP() FROM `{$this->table}`"
                . ' WHERE id = ? AND updated_at >= UNIX_TIMESTAMP() - ?'
            );
            $key = self::key($id);
            $stmt->bind_param('si', $key, $lifetime);
            $stmt->execute();
            $row = $stmt->get_result()->fetch_row();
            $this->readKey = $key;
            $this->readAge = $row === null ? null : (int) $row[2] - (int) $row[1];
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

    // Called instead of write() when the data did not change (session.lazy_write, on by default).
    // Touching the row on every such request would be a write, hence a semi-sync commit (a round
    // trip to a replica) on every page view of a session that only reads. So the row is touched
    // only when read() found it older than the refresh interval: min(60 s, gc_maxlifetime / 10).
    // Trade-off: updated_at may lag the session's last request by up to that interval, so an idle
    // session expires between lifetime - interval and lifetime after its last request (at most 10%
    // early, never late: expiry stays on the safe side). A session that read() did not find alive
    // is not touched either: there is nothing to keep (an UPDATE would match no row, or revive an
    // expired row with its old data). Any id read() did not look up is touched as before.
    public function updateTimestamp(string $id, string $data): bool
    {
        $key = self::key($id);
        if ($this->touchCanWait($key)) {
            return true;
        }
        try {
            $stmt = $this->db->prepare("UPDATE `{$this->table}` SET updated_at = UNIX_TIMESTAMP() WHERE id = ?");
            $stmt->bind_param('s', $key);
            return $stmt->execute();
        } catch (Throwable $e) {
            error_log('ha_lamp session: updateTimestamp: ' . $e->getMessage());
            return false;
        }
    }

    private function touchCanWait(string $key): bool
    {
        if ($key !== $this->readKey) {
            return false;
        }
        return $this->readAge === null || $this->readAge < $this->touchInterval();
    }

    private function touchInterval(): int
    {
        return min(self::TOUCH_INTERVAL_MAX, max(1, intdiv($this->lifetime(), 10)));
    }

    private function forgetRead(): void
    {
        $this->readKey = null;
        $this->readAge = null;
    }

    // For the GC script: open a connection without starting a session.
    public function connect(): void
    {
        $this->db = HaLampConfig::connectWriter();
    }
}
