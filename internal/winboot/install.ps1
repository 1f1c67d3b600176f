# Paddock runner install script for Windows (Windows PowerShell 5.1 or
# PowerShell 7). Fetches this machine's single-use runner configuration,
# downloads the runner (sha256 checked), starts it with its just-in-time
# config, reports progress, and reports when the runner exits: the same flow
# as the Linux install script. Values set in the environment by the caller
# (METADATA_URL, CALLBACK_URL, BEARER_TOKEN, RUNNER_DIR) win over the ones
# written in below, since they come from the manager's public URL.
$ErrorActionPreference = 'Stop'
# Invoke-WebRequest in 5.1 is many times slower while drawing its progress bar.
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

function Get-Setting([string]$Name, [string]$Default) {
	$v = [Environment]::GetEnvironmentVariable($Name)
	if ([string]::IsNullOrEmpty($v)) { return $Default }
	return $v
}

$MetadataURL = Get-Setting 'METADATA_URL' @@METADATA_URL@@
$CallbackURL = Get-Setting 'CALLBACK_URL' @@CALLBACK_URL@@
$Token = Get-Setting 'BEARER_TOKEN' @@BEARER_TOKEN@@
$RunnerDir = Get-Setting 'RUNNER_DIR' (Join-Path $env:SystemDrive 'actions-runner')

# Invoke-Manager calls the manager with the instance token, retrying
# transport errors and 5xx answers; a 4xx answer (token spent, instance
# gone) is final.
function Invoke-Manager([string]$Method, [string]$Uri, $Body = $null, [int]$Tries = 10) {
	$wait = 1
	for ($i = 1; ; $i++) {
		try {
			$req = @{ Method = $Method; Uri = $Uri; UseBasicParsing = $true
				Headers = @{ Authorization = "Bearer $Token"; Accept = 'application/json' } }
			if ($null -ne $Body) {
				$req.Body = [Text.Encoding]::UTF8.GetBytes((ConvertTo-Json -InputObject $Body -Compress))
				$req.ContentType = 'application/json'
			}
			return Invoke-RestMethod @req
		} catch {
			$code = 0
			if ($_.Exception.Response) { $code = [int]$_.Exception.Response.StatusCode }
			if (($code -ge 400 -and $code -lt 500) -or $i -ge $Tries) { throw }
			Start-Sleep -Seconds $wait
			$wait = [Math]::Min($wait * 2, 5)
		}
	}
}

function Send-Status([string]$Status, [string]$Message) {
	if ($Message.Length -gt 1000) { $Message = $Message.Substring(0, 1000) }
	$null = Invoke-Manager 'Post' "$CallbackURL/status" @{ status = $Status; message = $Message } 5
}

function Stop-Install([string]$Message) {
	try { Send-Status 'failed' $Message } catch { }
	[Console]::Error.WriteLine("paddock install: $Message")
	exit 1
}

try {
	Send-Status 'installing' 'fetching runner configuration'
} catch {
	[Console]::Error.WriteLine("paddock install: cannot report to ${CallbackURL}: $_")
	exit 1
}
# A warm machine of a shared pool waits unbound: the manager holds the
# request until a job is assigned to it, or answers 204 (no body) after a
# while, and the machine asks again. Invoke-RestMethod returns nothing for
# a 204.
try {
	do {
		$Config = Invoke-Manager 'Get' "$MetadataURL/runner"
		if (-not $Config) { Start-Sleep -Milliseconds 200 }
	} while (-not $Config)
} catch {
	Stop-Install "cannot fetch the runner configuration from $MetadataURL/runner ($_)"
}
$Name = [string]$Config.name
$Jit = [string]$Config.jit_config
$Url = [string]$Config.tool.download_url
$Sum = [string]$Config.tool.sha256_checksum
if ([string]$Config.kind -ne '') {
	Stop-Install "runner kind $($Config.kind) is not supported on Windows: this script runs GitHub's runner"
}
if (-not $Jit -or -not $Url -or -not $Sum) {
	Stop-Install 'runner configuration lacks jit_config, tool.download_url or tool.sha256_checksum'
}

try {
	$null = New-Item -ItemType Directory -Force -Path $RunnerDir
	Set-Location -LiteralPath $RunnerDir
} catch {
	Stop-Install "cannot create ${RunnerDir}: $_"
}
try { Send-Status 'installing' "downloading runner for $Name" } catch { }
$Zip = Join-Path $RunnerDir 'runner.zip'
$downloaded = $false
for ($i = 1; $i -le 5 -and -not $downloaded; $i++) {
	try {
		Invoke-WebRequest -UseBasicParsing -Uri $Url -OutFile $Zip
		$downloaded = $true
	} catch {
		if ($i -eq 5) { Stop-Install "cannot download the runner from $Url ($_)" }
		Start-Sleep -Seconds 3
	}
}
# The checksum is checked before anything of the package is unpacked.
$Got = (Get-FileHash -Algorithm SHA256 -LiteralPath $Zip).Hash
if (-not [string]::Equals($Got, $Sum, [StringComparison]::OrdinalIgnoreCase)) {
	Remove-Item -Force -LiteralPath $Zip
	Stop-Install "runner package sha256 $Got does not match the published ${Sum}: refusing to run it"
}
try {
	Add-Type -AssemblyName System.IO.Compression.FileSystem
	[IO.Compression.ZipFile]::ExtractToDirectory($Zip, $RunnerDir)
	Remove-Item -Force -LiteralPath $Zip
} catch {
	Stop-Install "cannot extract the runner package ($_)"
}

try {
	$os = Get-CimInstance -ClassName Win32_OperatingSystem
	$null = Invoke-Manager 'Post' "$CallbackURL/system-info" @{ os_name = [string]$os.Caption; os_version = [string]$os.Version; agent_id = $null } 3
} catch { }

# The JIT config goes in the environment, not on the command line, which
# other local users can read (Win32_Process CommandLine); the runner takes
# ACTIONS_RUNNER_INPUT_JITCONFIG as --jitconfig. The instance token stays
# out of the runner's (and so the jobs') environment.
foreach ($v in 'BEARER_TOKEN', 'PADDOCK_INSTANCE_TOKEN') { [Environment]::SetEnvironmentVariable($v, $null, 'Process') }
[Environment]::SetEnvironmentVariable('ACTIONS_RUNNER_INPUT_JITCONFIG', $Jit, 'Process')
try {
	$Runner = Start-Process -FilePath (Join-Path $RunnerDir 'run.cmd') -WorkingDirectory $RunnerDir -NoNewWindow -PassThru
	# Holding the handle keeps ExitCode readable once the process has exited.
	$null = $Runner.Handle
} catch {
	Stop-Install "cannot start the runner ($_)"
} finally {
	[Environment]::SetEnvironmentVariable('ACTIONS_RUNNER_INPUT_JITCONFIG', $null, 'Process')
	Remove-Variable -Name Jit
}
# From here on the token only serves the one "done" report below.
try { Send-Status 'idle' "runner $Name started" } catch { [Console]::Error.WriteLine('paddock install: could not report idle') }
$Runner.WaitForExit()
$RC = $Runner.ExitCode
# The machine is single-use: once the runner has exited, the manager may
# destroy it at once rather than wait for the forge to say so.
try { Send-Status 'done' "exit status $RC" } catch { [Console]::Error.WriteLine('paddock install: could not report done') }
exit $RC
