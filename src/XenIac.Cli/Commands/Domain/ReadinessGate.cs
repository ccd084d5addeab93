using System.Diagnostics;
using System.Net.Sockets;
using XenIac.Hosts;

namespace XenIac.Cli.Commands.Domain;

/// <summary>
/// What a clone must answer before a batch counts as made: a command that exits 0, or a TCP port that accepts a
/// connection, tried once a second until a deadline. A restored guest is running but not yet serving; tests that
/// start at once would fail on a warm pool that is not warm yet.
/// </summary>
internal sealed class ReadinessGate
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(1);

    private readonly string? _command;
    private readonly string? _tcpHost;
    private readonly int _tcpPort;
    private readonly TimeSpan _timeout;

    private ReadinessGate(string? command, string? tcpHost, int tcpPort, TimeSpan timeout) =>
        (_command, _tcpHost, _tcpPort, _timeout) = (command, tcpHost, tcpPort, timeout);

    /// <summary>The gate the options ask for, or null when they ask for none.</summary>
    /// <exception cref="ArgumentException">A --ready-tcp value that is not HOST:PORT, or both gates given.</exception>
    public static ReadinessGate? Create(string? command, string? tcp, TimeSpan timeout)
    {
        if (command is not null && tcp is not null) throw new ArgumentException("give one readiness gate: --ready-command or --ready-tcp, not both");
        if (command is { Length: 0 }) throw new ArgumentException("--ready-command is empty");
        if (tcp is null) return command is null ? null : new ReadinessGate(command, null, 0, timeout);
        var colon = tcp.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(tcp[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535)
            throw new ArgumentException($"--ready-tcp '{tcp}' is not HOST:PORT (a port from 1 to 65535)");
        return new ReadinessGate(null, tcp[..colon].Trim('[', ']'), port, timeout);
    }

    /// <exception cref="TimeoutException">The clone did not pass in time (the message says what was tried, and the last answer).</exception>
    public async Task WaitAsync(string name, int number, RestoreResult clone, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        string last;
        while (true)
        {
            last = _command is not null
                ? await RunCommandAsync(name, clone, cancellationToken).ConfigureAwait(false)
                : await ConnectAsync(Host(name, number), cancellationToken).ConfigureAwait(false);
            if (last.Length == 0) return;
            if (deadline.Elapsed + Retry > _timeout) break;
            await Task.Delay(Retry, cancellationToken).ConfigureAwait(false);
        }
        var what = _command is not null ? $"--ready-command '{_command}'" : $"--ready-tcp {Host(name, number)}:{_tcpPort}";
        throw new TimeoutException($"clone {name} did not pass {what} within {_timeout.TotalSeconds:0.#} s (last: {last})");
    }

    private string Host(string name, int number) =>
        _tcpHost!.Replace("{name}", name, StringComparison.Ordinal).Replace("{n}", number.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    /// <summary>Empty on success, else what went wrong.</summary>
    private async Task<string> ConnectAsync(string host, CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(Retry);
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(host, _tcpPort, attempt.Token).ConfigureAwait(false);
            return "";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return "no answer";
        }
        catch (SocketException e)
        {
            return e.Message;
        }
    }

    private async Task<string> RunCommandAsync(string name, RestoreResult clone, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo("sh") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(_command!);
        psi.Environment["XENIAC_CLONE_NAME"] = name;
        psi.Environment["XENIAC_CLONE_DOMID"] = clone.Domain.DomId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["XENIAC_CLONE_MACS"] = string.Join(',', clone.Cloned?.Macs ?? []);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        _ = process.StandardOutput.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        if (process.ExitCode == 0) return "";
        var said = (await stderr.ConfigureAwait(false)).Trim();
        return $"exit {process.ExitCode}{(said.Length == 0 ? "" : ": " + CommandLine.OneLine(said))}";
    }
}
