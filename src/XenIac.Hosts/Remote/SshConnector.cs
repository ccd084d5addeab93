using XenIac.Core.IO;
using System.ComponentModel;
using System.Diagnostics;
using System.IO.Pipes;
using System.Text;

namespace XenIac.Hosts.Remote;

/// <summary>
/// Starts the system <c>ssh</c> for an <see cref="SshTarget"/> and speaks the protocol over its stdin and stdout. ssh's
/// stderr (its own errors and the remote's log) is kept, the last few KiB, for the error when the connection ends.
/// </summary>
internal static class SshConnector
{
    private const int StderrKept = 4096;

    /// <summary>The host behind <paramref name="target"/>; connecting waits for the first operation.</summary>
    public static RemoteXenHost Open(SshTarget target)
    {
        var spec = target.ToString();
        return new RemoteXenHost(spec, ct => ConnectAsync(target, spec, ct));
    }

    private static async Task<RemoteConnection> ConnectAsync(SshTarget target, string spec, CancellationToken cancellationToken)
    {
        var argv = target.SshArguments(Environment.GetEnvironmentVariable(SshTarget.CommandVariable));
        var start = new ProcessStartInfo(argv[0])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in argv.Skip(1)) start.ArgumentList.Add(a);
        var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            process.Dispose();
            throw new XenHostException(XenHostError.Unavailable, $"{spec}: cannot start '{argv[0]}' ({e.Message}); install OpenSSH's client or set ${SshTarget.CommandVariable}", e);
        }
        var session = new SshProcess(process);
        var (fromServer, toServer) = OpenPipes(process);
        try
        {
            return await RemoteConnection.OpenAsync(new OwnedStream(fromServer, session), toServer,
                spec, session.DescribeEndAsync, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// ssh's stdout and stdin, enlarged, each served by a thread of its own (see <see cref="PipeInput"/>); where that
    /// cannot be had, .NET's own pipe streams. The threads' descriptors are copies: .NET's are closed here, so the
    /// server sees the end of its input when the connection closes its writer.
    /// </summary>
    private static (Stream FromServer, Stream ToServer) OpenPipes(Process process)
    {
        var stdout = process.StandardOutput.BaseStream;
        var stdin = process.StandardInput.BaseStream;
        Stream fromServer = stdout, toServer = stdin;
        if (stdout is PipeStream outPipe && PipeInput.TryOpen(Descriptor(outPipe), "xen-iac ssh reader") is { } input)
        {
            fromServer = input;
            stdout.Dispose();
        }
        if (stdin is PipeStream inPipe && PipeOutput.TryOpen(Descriptor(inPipe), "xen-iac ssh writer") is { } output)
        {
            toServer = output;
            stdin.Dispose();
        }
        return (fromServer, toServer);
    }

    private static int Descriptor(PipeStream pipe) => (int)pipe.SafePipeHandle.DangerousGetHandle();

    /// <summary>
    /// ssh's stderr in one line: its last lines, and before them a warning's headline when that scrolled off (a
    /// changed host key is a 15-line banner whose last lines say only that verification failed).
    /// </summary>
    internal static string Summarize(string stderr)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Trim('@', ' ', '\r')).Where(l => l.Length > 0).ToList();
        var tail = lines.TakeLast(6).ToList();
        if (lines.FirstOrDefault(l => l.Contains("WARNING", StringComparison.Ordinal)) is { } headline && !tail.Contains(headline))
            tail.Insert(0, headline);
        return string.Join(" | ", tail);
    }

    /// <summary>The ssh process: its stderr tail, and its end (waited for, or killed when it does not go).</summary>
    private sealed class SshProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _stderr = new();
        private readonly Task _readingStderr;
        private int _disposed;

        public SshProcess(Process process)
        {
            _process = process;
            _readingStderr = Task.Run(ReadStderrAsync);
            lock (s_live) s_live.Add(this);
        }

        // Every ssh this process started and has not ended. A command that fails on one host's connection exits while
        // another connection (a plan asks several hosts at once) still waits for its hello: that ssh was left running
        // under init. What is still here when the process exits is killed.
        private static readonly HashSet<SshProcess> s_live = [];

        static SshProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            SshProcess[] left;
            lock (s_live) left = [.. s_live];
            foreach (var ssh in left)
            {
                try { if (!ssh._process.HasExited) ssh._process.Kill(entireProcessTree: true); }
                catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { }
            }
        };

        private async Task ReadStderrAsync()
        {
            var buffer = new char[1024];
            try
            {
                int n;
                while ((n = await _process.StandardError.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                {
                    lock (_stderr)
                    {
                        _stderr.Append(buffer, 0, n);
                        if (_stderr.Length > StderrKept) _stderr.Remove(0, _stderr.Length - StderrKept);
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { }
        }

        /// <summary>
        /// "ssh exited with code 255: …the last lines of stderr…", once it has ended (waited for briefly); with
        /// <paramref name="stop"/> it is ended if it has not ended within a second, as the connection is abandoned (a
        /// remote that wrote something else, or nothing, may well go on waiting).
        /// </summary>
        public async Task<string?> DescribeEndAsync(bool stop)
        {
            // A remote that printed "command not found" is ending by itself: its exit code says most, so it gets a
            // moment to end (ssh's stdout may close before ssh is reaped) before it is stopped.
            var stopped = false;
            if (!await ExitedWithinAsync(TimeSpan.FromSeconds(stop ? 1 : 3)).ConfigureAwait(false) && stop)
            {
                try { _process.Kill(entireProcessTree: true); stopped = true; }
                catch (InvalidOperationException) { /* it ended meanwhile */ }
                await ExitedWithinAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
            }
            await Task.WhenAny(_readingStderr, Task.Delay(500)).ConfigureAwait(false);
            string tail;
            lock (_stderr) tail = Summarize(_stderr.ToString());
            var exit = stopped ? "ssh was stopped" : _process.HasExited ? $"ssh exited with code {_process.ExitCode}" : "ssh is still running";
            return tail.Length == 0 ? exit : $"{exit}: {tail}";
        }

        private async Task<bool> ExitedWithinAsync(TimeSpan time)
        {
            using var wait = new CancellationTokenSource(time);
            try { await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
            return _process.HasExited;
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            try { _process.StandardInput.Close(); }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { }
            using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            {
                try { await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false); }
                catch (OperationCanceledException)
                {
                    // Our own child that did not go when its input closed.
                    try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                }
            }
            lock (s_live) s_live.Remove(this);
            _process.Dispose();
        }
    }

    /// <summary>The ssh stdout; disposing it (as the connection does last) also ends the ssh process.</summary>
    private sealed class OwnedStream(Stream inner, IAsyncDisposable owner) : ForwardReadStream, IReadAtLeast
    {
        public ValueTask<int> ReadAtLeastAsync(Memory<byte> buffer, int minimum, CancellationToken cancellationToken) =>
            inner is IReadAtLeast whole ? whole.ReadAtLeastAsync(buffer, minimum, cancellationToken) : inner.ReadAsync(buffer, cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override async ValueTask DisposeAsync()
        {
            await owner.DisposeAsync().ConfigureAwait(false);
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) owner.DisposeAsync().AsTask().GetAwaiter().GetResult();
            base.Dispose(disposing);
        }
    }
}
