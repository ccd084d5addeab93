using System.Diagnostics;
using System.Text.RegularExpressions;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using XenIac.Store.Backends;
using XenIac.Tests;

namespace XenIac.Store.Tests.Backends;

/// <summary>
/// A real S3-protocol server for the tests: npm's s3rver on 127.0.0.1, on a port the kernel picks, storing in a
/// per-run temp folder, with one bucket created. It installs nothing: <c>tests/tools/install-s3rver.sh</c> (run by
/// .ci/run) puts s3rver in artifacts/tools/s3rver; a copy on PATH also works. When it cannot start,
/// <see cref="SkipReason"/> says why and the S3 tests skip.
/// </summary>
public sealed partial class S3ServerFixture : IAsyncLifetime
{
    // s3rver's built-in account; it checks signatures against it.
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";
    public const string Region = "us-east-1";

    private Process? _server;
    private string? _directory;

    public string Bucket { get; } = "xeniac-test-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>http://127.0.0.1:PORT once the server answers.</summary>
    public string Endpoint { get; private set; } = "";

    /// <summary>Null when the server runs; otherwise why the S3 tests skip.</summary>
    public string? SkipReason { get; private set; } = "the s3rver fixture has not started";

    public AWSCredentials Credentials { get; } = new BasicAWSCredentials(AccessKey, SecretKey);

    internal S3Connection Connection => new(Endpoint, Region, Credentials);

    /// <summary>A backend on this server's bucket, under its own prefix so tests do not see each other's keys.</summary>
    internal S3Backend Open(string? bucket = null, string? prefix = null) =>
        new($"s3://{bucket ?? Bucket}/{prefix ?? "t-" + Guid.NewGuid().ToString("N")[..8]}", Connection);

    public async Task InitializeAsync()
    {
        var program = FindS3rver();
        if (program is null)
        {
            SkipReason = "s3rver is not installed (run tests/tools/install-s3rver.sh, which .ci/run does; it needs npm)";
            return;
        }
        _directory = Directory.CreateTempSubdirectory("xeniac-s3rver-").FullName;
        try
        {
            Endpoint = await StartAsync(program, _directory).ConfigureAwait(false);
            await CreateBucketAsync().ConfigureAwait(false);
            SkipReason = null;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or AmazonClientException or AmazonServiceException or HttpRequestException
                                      or System.ComponentModel.Win32Exception)
        {
            SkipReason = $"s3rver ({program}) did not start: {e.Message}";
            await DisposeAsync().ConfigureAwait(false);
        }
    }

    public Task DisposeAsync()
    {
        if (_server is { } server)
        {
            try { if (!server.HasExited) server.Kill(entireProcessTree: true); server.WaitForExit(5000); }
            catch (InvalidOperationException) { } // already gone
            server.Dispose();
            _server = null;
        }
        if (_directory is { } dir)
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            _directory = null;
        }
        return Task.CompletedTask;
    }

    private static string? FindS3rver()
    {
        var installed = Path.Combine(SharedFixtures.RepoRoot, "artifacts", "tools", "s3rver", "node_modules", ".bin", "s3rver");
        if (File.Exists(installed)) return installed;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "s3rver");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Starts s3rver on port 0 (no race for a free port) and reads the port it reports.</summary>
    private async Task<string> StartAsync(string program, string directory)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with DES, which Node 17+ (OpenSSL 3) only offers
        // through the legacy provider; without it every paged listing fails with InternalError.
        info.Environment["NODE_OPTIONS"] = ((Environment.GetEnvironmentVariable("NODE_OPTIONS") ?? "") + " --openssl-legacy-provider").Trim();
        // Not --silent: that also hides the "listening on" line that carries the port. Request logs are drained below.
        foreach (var arg in new[] { "--address", "127.0.0.1", "--port", "0", "--directory", directory }) info.ArgumentList.Add(arg);
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var server = new Process { StartInfo = info, EnableRaisingEvents = true };
        server.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line && Listening().Match(line) is { Success: true } m) listening.TrySetResult(m.Groups[1].Value);
        };
        server.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line && errors.Count < 20) errors.Enqueue(line); };
        server.Exited += (_, _) => listening.TrySetException(new InvalidOperationException(
            $"it exited with code {SafeExitCode(server)}: {string.Join(" | ", errors)}"));
        server.Start();
        _server = server;
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        var port = await listening.Task.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        return $"http://127.0.0.1:{port}";
    }

    private static string SafeExitCode(Process p)
    {
        try { return p.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture); } catch (InvalidOperationException) { return "?"; }
    }

    /// <summary>Creating the bucket is also the check that the server answers S3 requests with our credentials.</summary>
    private async Task CreateBucketAsync()
    {
        using var client = new AmazonS3Client(Credentials, new AmazonS3Config
        {
            ServiceURL = Endpoint,
            AuthenticationRegion = Region,
            ForcePathStyle = true,
        });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                await client.PutBucketAsync(new PutBucketRequest { BucketName = Bucket }).ConfigureAwait(false);
                return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200).ConfigureAwait(false);
            }
        }
    }

    [GeneratedRegex(@"listening on [^\s:]+:(\d+)")]
    private static partial Regex Listening();
}
