using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace XenIac.Tests;

/// <summary>
/// A real OpenSSH server on 127.0.0.1 for the ssh:// host tests and benchmarks (no test framework here): a random free port, a host key and a user key made
/// for this run, authorized_keys and a pre-filled known_hosts (host-key checking stays on), run as the current user.
/// <see cref="SshCommand"/> is what $XENIAC_SSH is set to: ssh with this run's client config, where the alias
/// <see cref="Alias"/> names the server. The remote command is the tool under test, through a wrapper script that
/// sets the remote's temp folder (where a save waits while it is sent). Unavailable (no sshd, no ssh, it does not
/// start): <see cref="SkipReason"/> says why.
/// </summary>
public sealed class LoopbackSshd : IAsyncDisposable
{
    public const string Alias = "xeniac-test";

    private Process? _sshd;
    private readonly StringBuilder _log = new();

    public string Dir { get; } = Directory.CreateTempSubdirectory("xeniac-sshd-").FullName;
    public string? SkipReason { get; private set; }
    public int Port { get; private set; }
    public string SshCommand => $"ssh -F {Path.Combine(Dir, "ssh_config")}";
    /// <summary>The remote xen-iac (a script that runs the tool under test).</summary>
    public string RemoteTool => Path.Combine(Dir, "xen-iac");
    /// <summary>The remote's temp folder: where a remote save waits.</summary>
    public string RemoteTemp => Path.Combine(Dir, "remote-tmp");
    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>Starts the server; on failure <see cref="SkipReason"/> says why and nothing runs.</summary>
    public async Task StartAsync()
    {
        const string sshd = "/usr/sbin/sshd";
        if (!File.Exists(sshd)) { SkipReason = "no /usr/sbin/sshd (Debian's openssh-server)"; return; }
        if (FindOnPath("ssh") is null || FindOnPath("ssh-keygen") is null) { SkipReason = "no ssh or ssh-keygen on PATH (openssh-client)"; return; }
        // sshd running as root wants its privilege separation folder; a fresh container may not have it.
        if (Environment.UserName == "root" && !Directory.Exists("/run/sshd"))
        {
            try { Directory.CreateDirectory("/run/sshd"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { SkipReason = $"cannot create /run/sshd: {e.Message}"; return; }
        }
        Directory.CreateDirectory(RemoteTemp);
        // The sessions' HOME, empty: the login shell that runs the remote command (bash, for root here) reads
        // ~/.bashrc, whose pyenv and cargo set-up took 0.9 s of CPU per connection on the 2-core build machine (3 s
        // wall when busy); a dom0's login has none of that, and neither the tests nor the benchmarks should time it.
        Directory.CreateDirectory(Path.Combine(Dir, "home"));
        var hostKey = Path.Combine(Dir, "host_key");
        var userKey = Path.Combine(Dir, "user_key");
        foreach (var key in new[] { hostKey, userKey })
        {
            var (code, output) = await RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "xeniac-test", "-f", key);
            if (code != 0) { SkipReason = $"ssh-keygen failed: {output}"; return; }
        }
        File.Copy(userKey + ".pub", Path.Combine(Dir, "authorized_keys"));
        Port = FreePort();
        var hostPub = (await File.ReadAllTextAsync(hostKey + ".pub")).Trim().Split(' ');
        await File.WriteAllTextAsync(Path.Combine(Dir, "known_hosts"), $"[127.0.0.1]:{Port} {hostPub[0]} {hostPub[1]}\n");
        var user = Environment.UserName;
        await File.WriteAllTextAsync(Path.Combine(Dir, "sshd_config"), $"""
            ListenAddress 127.0.0.1
            Port {Port}
            HostKey {hostKey}
            PidFile {Path.Combine(Dir, "sshd.pid")}
            AuthorizedKeysFile {Path.Combine(Dir, "authorized_keys")}
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            AllowUsers {user}
            StrictModes no
            UsePAM no
            PrintMotd no
            SetEnv HOME={Path.Combine(Dir, "home")}
            LogLevel VERBOSE

            """);
        await File.WriteAllTextAsync(Path.Combine(Dir, "ssh_config"), $"""
            Host {Alias}
              HostName 127.0.0.1
              Port {Port}
              User {user}
              IdentityFile {userKey}
              IdentitiesOnly yes
              UserKnownHostsFile {Path.Combine(Dir, "known_hosts")}
              GlobalKnownHostsFile /dev/null
              StrictHostKeyChecking yes
              LogLevel ERROR
            Host *
              UserKnownHostsFile {Path.Combine(Dir, "known_hosts")}
              GlobalKnownHostsFile /dev/null
              IdentityFile {userKey}
              IdentitiesOnly yes
              LogLevel ERROR

            """);
        // The tool under test, with absolute paths: an ssh session's PATH is sshd's, not the test run's.
        var tool = ToolUnderTest.Command.Select((a, i) => i == 0 && a == "dotnet" ? FindOnPath("dotnet") ?? a : a).Select(Quote);
        var dotnetRoot = FindOnPath("dotnet") is { } dn ? Path.GetDirectoryName(new FileInfo(dn).ResolveLinkTarget(true)?.FullName ?? dn) : null;
        await File.WriteAllTextAsync(RemoteTool, $"""
            #!/bin/sh
            export TMPDIR={Quote(RemoteTemp)} DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1{(dotnetRoot is null ? "" : $" DOTNET_ROOT={Quote(dotnetRoot)}")}
            exec {string.Join(' ', tool)} "$@"

            """);
        File.SetUnixFileMode(RemoteTool, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var start = new ProcessStartInfo(sshd) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-D", "-e", "-f", Path.Combine(Dir, "sshd_config") }) start.ArgumentList.Add(a);
        _sshd = Process.Start(start)!;
        _sshd.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _sshd.BeginErrorReadLine();
        _sshd.BeginOutputReadLine();
        for (var i = 0; i < 100; i++)
        {
            if (_sshd.HasExited) { SkipReason = $"sshd exited at start: {Log.Trim()}"; return; }
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) { await Task.Delay(100); }
        }
        SkipReason = "sshd did not listen within 10 s";
    }

    /// <summary>The host spec of an embedded host at <paramref name="folder"/> behind this server.</summary>
    public string Spec(string folder, string? command = null) =>
        $"ssh://{Alias}?host=embedded:{folder}&command={Uri.EscapeDataString(command ?? RemoteTool)}";

    /// <summary>
    /// Kills the per-connection sshd processes (not the listener): what a dropped network or a killed server does
    /// to every connection in use.
    /// </summary>
    public int KillConnections()
    {
        if (_sshd is null) return 0;
        var killed = 0;
        foreach (var pid in Descendants(_sshd.Id).Where(p => Comm(p).StartsWith("sshd", StringComparison.Ordinal)))
        {
            try { Process.GetProcessById(pid).Kill(); killed++; }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception) { }
        }
        return killed;
    }

    private static List<int> Descendants(int root)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var ppid = int.Parse(fields[1], CultureInfo.InvariantCulture);
                (children.TryGetValue(ppid, out var list) ? list : children[ppid] = []).Add(pid);
            }
            catch (IOException) { }
        }
        var result = new List<int>();
        var queue = new Queue<int>([root]);
        while (queue.TryDequeue(out var p))
            foreach (var c in children.GetValueOrDefault(p) ?? []) { result.Add(c); queue.Enqueue(c); }
        return result;
    }

    private static string Comm(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/comm").Trim(); }
        catch (IOException) { return ""; }
    }

    public async ValueTask DisposeAsync()
    {
        if (_sshd is { HasExited: false })
        {
            _sshd.Kill(entireProcessTree: true);
            await _sshd.WaitForExitAsync();
        }
        _sshd?.Dispose();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static async Task<(int, string)> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = await p.StandardError.ReadToEndAsync() + await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, output.Trim());
    }
}
