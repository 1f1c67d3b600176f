#ps1_sysnative
# Paddock runner bootstrap for Windows. The first line is cloudbase-init's
# marker for a 64-bit PowerShell user-data script; elsewhere (Azure custom
# data run by a CustomScriptExtension) it is a comment. It fetches this
# machine's install script with its single-use instance token and runs it;
# if that fails, the manager hears about it instead of waiting for the
# bootstrap timeout.
#
# The token is written in below only when a GARM provider renders this
# script (runner_install_template, as on Linux). In Paddock's own user data
# it is empty, and the token is read from the boot settings file
# paddock-boot.env (lines KEY='value': METADATA_URL, CALLBACK_URL,
# BEARER_TOKEN) on a volume labelled cidata, config-2 or PADDOCK, or at the
# path in PADDOCK_BOOT_FILE.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

$MetadataURL = @@METADATA_URL@@
$CallbackURL = @@CALLBACK_URL@@
$Token = @@BEARER_TOKEN@@

function Read-BootFile {
	$path = $env:PADDOCK_BOOT_FILE
	if (-not $path) {
		$labels = @('cidata', 'config-2', 'PADDOCK')
		foreach ($vol in @(Get-CimInstance -ClassName Win32_Volume | Where-Object { $_.DriveLetter -and $labels -contains $_.Label })) {
			$candidate = Join-Path "$($vol.DriveLetter)\" 'paddock-boot.env'
			if (Test-Path -LiteralPath $candidate) { $path = $candidate; break }
		}
	}
	$settings = @{}
	if (-not $path) { return $settings }
	foreach ($line in Get-Content -LiteralPath $path) {
		if ($line -match '^\s*([A-Z_]+)=(.*)$') {
			$value = $Matches[2].Trim()
			if ($value.Length -ge 2 -and $value.StartsWith("'") -and $value.EndsWith("'")) {
				$value = $value.Substring(1, $value.Length - 2).Replace("'\''", "'")
			}
			$settings[$Matches[1]] = $value
		}
	}
	return $settings
}

if (-not $Token) {
	$boot = Read-BootFile
	if ($boot['METADATA_URL']) { $MetadataURL = $boot['METADATA_URL'] }
	if ($boot['CALLBACK_URL']) { $CallbackURL = $boot['CALLBACK_URL'] }
	$Token = $boot['BEARER_TOKEN']
}
if (-not $Token) {
	# Without a token the manager cannot be told; it retires the machine
	# at its bootstrap timeout.
	[Console]::Error.WriteLine('paddock bootstrap: no instance token: set PADDOCK_BOOT_FILE or attach a volume labelled cidata, config-2 or PADDOCK holding paddock-boot.env')
	exit 1
}

function Stop-Bootstrap([string]$Message) {
	if ($Message.Length -gt 1000) { $Message = $Message.Substring(0, 1000) }
	try {
		$body = [Text.Encoding]::UTF8.GetBytes((ConvertTo-Json -InputObject @{ status = 'failed'; message = $Message } -Compress))
		$null = Invoke-RestMethod -UseBasicParsing -Method Post -Uri "$CallbackURL/status" -ContentType 'application/json' `
			-Headers @{ Authorization = "Bearer $Token" } -Body $body
	} catch { }
	[Console]::Error.WriteLine("paddock bootstrap: $Message")
	exit 1
}

$Script = Join-Path ([IO.Path]::GetTempPath()) ('paddock-install-' + [Guid]::NewGuid().ToString('N') + '.ps1')
$fetched = $false
for ($i = 1; $i -le 10 -and -not $fetched; $i++) {
	try {
		Invoke-WebRequest -UseBasicParsing -Uri "$MetadataURL/install-script.ps1" -OutFile $Script `
			-Headers @{ Authorization = "Bearer $Token" }
		$fetched = $true
	} catch {
		$code = 0
		if ($_.Exception.Response) { $code = [int]$_.Exception.Response.StatusCode }
		if (($code -ge 400 -and $code -lt 500) -or $i -eq 10) { Stop-Bootstrap "cannot download $MetadataURL/install-script.ps1 ($_)" }
		Start-Sleep -Seconds 3
	}
}
# The install script reads these; the same PowerShell runs it.
$env:METADATA_URL = $MetadataURL
$env:CALLBACK_URL = $CallbackURL
$env:BEARER_TOKEN = $Token
$shell = (Get-Process -Id $PID).Path
& $shell -NoProfile -NonInteractive -ExecutionPolicy Bypass -File $Script
$rc = $LASTEXITCODE
Remove-Item -Force -ErrorAction SilentlyContinue -LiteralPath $Script
if ($rc -ne 0) { Stop-Bootstrap "install script exited with code $rc" }
