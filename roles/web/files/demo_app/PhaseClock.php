<?php
// ha_lamp demo application: the Server-Timing clock shared by index.php and page.php.
declare(strict_types=1);

// Server-Timing: the phases of this request as laps of one clock (hrtime, monotonic): each phase
// runs from the end of the previous one, so they do not overlap and add up to about `total`.
// Only fixed phase names and numbers: nothing about the request, the session or the database.
final class PhaseClock
{
    private int $start;
    private int $mark;
    private array $ms = [];

    public function __construct()
    {
        $this->start = $this->mark = hrtime(true);
    }

    // Ends the running phase as $name. $parts (ms by name) were measured inside it (the session
    // handler's connect and lock wait): they are reported under their own names and taken out of
    // $name, so the phases still do not overlap.
    public function lap(string $name, array $parts = []): void
    {
        $now = hrtime(true);
        $left = ($now - $this->mark) / 1e6;
        foreach ($parts as $part => $ms) {
            $ms = min((float) $ms, $left);
            $this->ms[$part] = ($this->ms[$part] ?? 0.0) + $ms;
            $left -= $ms;
        }
        $this->ms[$name] = ($this->ms[$name] ?? 0.0) + $left;
        $this->mark = $now;
    }

    // Before the first byte of the body. %F: a decimal point whatever the locale.
    public function send(): void
    {
        $metrics = [];
        foreach ($this->ms + ['total' => (hrtime(true) - $this->start) / 1e6] as $name => $ms) {
            $metrics[] = sprintf('%s;dur=%.2F', $name, $ms);
        }
        header('Server-Timing: ' . implode(', ', $metrics));
    }
}

// What the session handler measured since the last call (none when another handler is in use).
function session_phases(): array
{
    return class_exists('HaLampSessionHandler', false) ? HaLampSessionHandler::takePhaseTimings() : [];
}
