import type { HostPlan } from "../platform/plan.js";
import { generatedHeader } from "./header.js";
import { unitName, type HostLayout } from "./layout.js";
import { absolutePath } from "./sanitize.js";

/**
 * pgbouncer.service, replacing the package's unit (installed to /etc/systemd/system). What it adds:
 * LimitNOFILE from the plan (the package leaves 1024, far below max_client_conn), restart on
 * failure, and a stop that waits for transactions: SIGINT is PgBouncer's safe shutdown in every
 * version we support (SIGTERM changed meaning in 1.23). ExecReload sends SIGHUP = RELOAD, which
 * also reopens the log file after rotation.
 */
export function renderSystemdUnit(
  host: HostPlan,
  layout: HostLayout,
  stopTimeoutSeconds: number,
  k = 1,
): string {
  const which = host.processes > 1 ? `${host.name}, process ${k} of ${host.processes}` : host.name;
  const runDir = absolutePath("layout.unixSocketDir", layout.unixSocketDir);
  const logDir = absolutePath("layout.logFile", layout.logFile).replace(/\/[^/]+$/, "");
  // systemd creates /run/<x> and /var/log/<x> for the service user; other layouts (the local
  // stack's state folder) make their folders themselves.
  const managedDirs = [
    ...(runDir.startsWith("/run/")
      ? [`RuntimeDirectory=${runDir.slice(5)}`, "RuntimeDirectoryMode=0755"]
      : []),
    ...(logDir.startsWith("/var/log/") ? [`LogsDirectory=${logDir.slice(9)}`] : []),
  ];
  return (
    generatedHeader("#", `${unitName(k)} for ${host.name}`) +
    `[Unit]
Description=PgBouncer connection pooler (${which}, pg-pooling)
Documentation=man:pgbouncer(1) https://www.pgbouncer.org/config.html
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
User=${layout.user}
Group=${layout.user}
ExecStart=${absolutePath("layout.binary", layout.binary)} ${absolutePath("layout.iniFile", layout.iniFile)}
ExecReload=/bin/kill -HUP $MAINPID
KillSignal=SIGINT
TimeoutStopSec=${stopTimeoutSeconds}
Restart=on-failure
RestartSec=2s
LimitNOFILE=${host.openFilesLimit}
${managedDirs.map((d) => d + "\n").join("")}NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full
ProtectHome=yes

[Install]
WantedBy=multi-user.target
`
  );
}
