import { generatedHeader } from "./header.js";
import type { HostLayout } from "./layout.js";
import { absolutePath } from "./sanitize.js";

/**
 * Daily rotation, two weeks kept. PgBouncer keeps its log file open; SIGHUP (systemd's reload)
 * makes it reopen the file, so rotation needs no copytruncate (which loses lines written between
 * copy and truncate). `su` because the log folder belongs to the service user.
 */
export function renderLogrotate(
  layout: HostLayout,
  reloadCommand: string,
  otherLogFiles: readonly string[] = [],
): string {
  if (/[\n\r]/.test(reloadCommand)) throw new Error("logrotate reload command must be one line");
  const files = [layout.logFile, ...otherLogFiles].map((f) => absolutePath("layout.logFile", f));
  return (
    generatedHeader("#", "logrotate for PgBouncer") +
    `${files.join(" ")} {
    su ${layout.user} ${layout.user}
    daily
    rotate 14
    maxsize 512M
    missingok
    notifempty
    compress
    delaycompress
    create 0640 ${layout.user} ${layout.user}
    sharedscripts
    postrotate
        ${reloadCommand}
    endscript
}
`
  );
}
