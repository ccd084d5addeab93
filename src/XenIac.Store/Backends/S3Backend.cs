using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace XenIac.Store.Backends;

/// <summary>
/// A store in an S3 bucket (<c>s3://bucket/prefix</c>), on AWS or any S3-protocol server (Ceph radosgw, MinIO,
/// s3rver). An object is an S3 object named prefix + "/" + key; S3 makes every single-object put atomic for
/// readers, so nothing more is needed for the backend contract.
/// </summary>
/// <remarks>
/// Endpoint, region and credentials come the AWS way: <c>AWS_ENDPOINT_URL_S3</c> or <c>AWS_ENDPOINT_URL</c>,
/// <c>AWS_REGION</c> or <c>AWS_DEFAULT_REGION</c> (us-east-1 when neither is set, which local servers accept), and
/// the SDK's default credential chain (<c>AWS_ACCESS_KEY_ID</c>/<c>AWS_SECRET_ACCESS_KEY</c>, profiles, instance
/// roles). With an endpoint URL the bucket goes in the path, as local servers have no per-bucket host names.
/// </remarks>
public sealed partial class S3Backend : IStoreBackend
{
    private readonly AmazonS3Client _client;
    private readonly string _bucket;
    private readonly string _root; // "" or "prefix/": prepended to every key
    private readonly string _endpoint; // for messages: where the bucket was looked for
    private readonly bool _customEndpoint;
    private volatile bool _bucketSeen;

    /// <summary>Opens <paramref name="location"/> with the endpoint and credentials of the environment.</summary>
    public S3Backend(string location) : this(location, S3Connection.FromEnvironment()) { }

    internal S3Backend(string location, S3Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        Location = location;
        (_bucket, _root) = ParseLocation(location);
        var config = new AmazonS3Config
        {
            // Retries cover a blip; a dead server should fail a push in seconds, not minutes. A server that takes the
            // connection and never answers waits out the timeout on each try: 3 × 30 s (it was 3 × 100 s, then a crash).
            MaxErrorRetry = 2,
            Timeout = RequestTimeout,
        };
        if (connection.EndpointUrl is { } endpoint)
        {
            config.ServiceURL = endpoint;
            config.AuthenticationRegion = connection.Region;
            config.ForcePathStyle = true;
            // SDK v4 sends CRC32 trailers in aws-chunked bodies by default; S3-protocol servers other than AWS
            // (s3rver, older radosgw and MinIO) reject or mangle them. The store hashes every chunk itself.
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
            _endpoint = endpoint;
            _customEndpoint = true;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(connection.Region);
            _endpoint = $"AWS region {connection.Region}";
        }
        try
        {
            _client = connection.Credentials is { } credentials ? new AmazonS3Client(credentials, config) : new AmazonS3Client(config);
        }
        catch (Exception e) when (e is AmazonClientException or AmazonServiceException)
        {
            throw new StoreException(StoreError.Unavailable, $"cannot open the store '{Location}': {OneLine(e.Message)}", e);
        }
    }

    public string Location { get; }

    /// <summary>Keys per ListObjectsV2 page (S3's maximum is 1000); tests lower it to exercise paging.</summary>
    internal int ListPageSize { get; set; } = 1000;

    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        var name = NameOf(key);
        try
        {
            await _client.GetObjectMetadataAsync(_bucket, name, cancellationToken).ConfigureAwait(false);
            _bucketSeen = true;
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            // A HEAD answer has no body, so a missing key and a missing bucket look the same: check the bucket once.
            if (!_bucketSeen) await CheckBucketAsync(key, cancellationToken).ConfigureAwait(false);
            return false;
        }
        catch (Exception e) when (IsFailure(e, cancellationToken))
        {
            throw Failure("check", key, e);
        }
    }

    public Task PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        WriteAsync(key, data, overwrite: true, cancellationToken);

    public Task<bool> CreateAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        WriteAsync(key, data, overwrite: false, cancellationToken);

    private async Task<bool> WriteAsync(string key, ReadOnlyMemory<byte> data, bool overwrite, CancellationToken cancellationToken)
    {
        var name = NameOf(key);
        var stream = MemoryMarshal.TryGetArray(data, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(data.ToArray(), writable: false);
        var request = new PutObjectRequest
        {
            BucketName = _bucket,
            Key = name,
            InputStream = stream,
            AutoCloseStream = true,
            ContentType = "application/octet-stream",
            // aws-chunked bodies (signed chunk by chunk) are an AWS extension that s3rver stores verbatim, chunk
            // headers and all; one signed body works everywhere and objects here are small.
            UseChunkEncoding = !_customEndpoint,
        };
        if (!overwrite) request.IfNoneMatch = "*";
        try
        {
            await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
            _bucketSeen = true;
            return true;
        }
        catch (AmazonS3Exception e) when (!overwrite && (e.StatusCode == HttpStatusCode.PreconditionFailed || e.ErrorCode == "PreconditionFailed"))
        {
            return false;
        }
        catch (Exception e) when (IsFailure(e, cancellationToken))
        {
            throw Failure("write", key, e);
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async Task<byte[]?> GetAsync(string key, int maxBytes, CancellationToken cancellationToken = default)
    {
        var name = NameOf(key);
        try
        {
            using var response = await _client.GetObjectAsync(_bucket, name, cancellationToken).ConfigureAwait(false);
            _bucketSeen = true;
            var length = response.ContentLength;
            // Refused before the body is read: a damaged or hostile store cannot make a reader allocate gigabytes.
            if (length > maxBytes)
                throw new StoreException(StoreError.Damaged, $"{key} in the store '{Location}' is {length} bytes, more than the {maxBytes} such an object can be");
            if (length < 0)
                throw new StoreException(StoreError.Unavailable, $"cannot read {key} in the store '{Location}': the server at {_endpoint} sent no Content-Length");
            var data = new byte[length];
            await response.ResponseStream.ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);
            return data;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchKey" || (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket"))
        {
            return null;
        }
        catch (EndOfStreamException e)
        {
            throw new StoreException(StoreError.Unavailable, $"cannot read {key} in the store '{Location}': the connection to {_endpoint} ended inside the object", e);
        }
        catch (Exception e) when (IsFailure(e, cancellationToken))
        {
            throw Failure("read", key, e);
        }
    }

    public async Task<int?> ReadRangeAsync(string key, long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var name = NameOf(key);
        if (buffer.Length == 0) return await ExistsAsync(key, cancellationToken).ConfigureAwait(false) ? 0 : null;
        try
        {
            var request = new GetObjectRequest { BucketName = _bucket, Key = name, ByteRange = new ByteRange(offset, offset + buffer.Length - 1) };
            using var response = await _client.GetObjectAsync(request, cancellationToken).ConfigureAwait(false);
            _bucketSeen = true;
            // A server that ignores the range answers 200 with the whole object: skip to the offset, then never
            // read more than was asked for.
            if (response.HttpStatusCode == HttpStatusCode.OK && offset > 0)
            {
                var skip = new byte[Math.Min(offset, 1 << 20)];
                for (var left = offset; left > 0;)
                {
                    var n = await response.ResponseStream.ReadAsync(skip.AsMemory(0, (int)Math.Min(left, skip.Length)), cancellationToken).ConfigureAwait(false);
                    if (n == 0) return 0;
                    left -= n;
                }
            }
            var filled = 0;
            while (filled < buffer.Length)
            {
                var n = await response.ResponseStream.ReadAsync(buffer[filled..], cancellationToken).ConfigureAwait(false);
                if (n == 0) break;
                filled += n;
            }
            return filled;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            return 0; // the object ends before the range starts
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchKey" || (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket"))
        {
            return null;
        }
        catch (Exception e) when (IsFailure(e, cancellationToken))
        {
            throw Failure("read", key, e);
        }
    }

    public async IAsyncEnumerable<StoreObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = _root + prefix, MaxKeys = ListPageSize };
        while (true)
        {
            ListObjectsV2Response response;
            try
            {
                response = await _client.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
                _bucketSeen = true;
            }
            catch (Exception e) when (IsFailure(e, cancellationToken))
            {
                throw Failure("list", prefix.Length == 0 ? "(all keys)" : prefix + "*", e);
            }
            foreach (var item in response.S3Objects ?? [])
            {
                // The server filters by prefix already; the check keeps a misbehaving one from leaking other keys.
                if (!item.Key.StartsWith(_root, StringComparison.Ordinal)) continue;
                var modified = item.LastModified is { } when ? new DateTimeOffset(when.ToUniversalTime(), TimeSpan.Zero) : DateTimeOffset.MinValue;
                yield return new StoreObject(item.Key[_root.Length..], item.Size ?? 0, modified);
            }
            if (response.IsTruncated != true || string.IsNullOrEmpty(response.NextContinuationToken)) yield break;
            request.ContinuationToken = response.NextContinuationToken;
        }
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var name = NameOf(key);
        try
        {
            // S3 answers 204 for a missing key too: deleting is idempotent without a check.
            await _client.DeleteObjectAsync(_bucket, name, cancellationToken).ConfigureAwait(false);
            _bucketSeen = true;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchKey")
        {
        }
        catch (Exception e) when (IsFailure(e, cancellationToken))
        {
            throw Failure("delete", key, e);
        }
    }

    /// <summary>Nothing to do: S3 has made an object durable when its put returns.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Splits <c>s3://bucket/prefix</c>; the prefix comes back as "" or with one trailing '/'.</summary>
    internal static (string Bucket, string Root) ParseLocation(string location)
    {
        ArgumentNullException.ThrowIfNull(location);
        const string scheme = "s3://";
        if (!location.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            throw new StoreException(StoreError.InvalidArgument, $"'{location}' is not an S3 location; write s3://bucket or s3://bucket/prefix");
        var rest = location[scheme.Length..];
        var slash = rest.IndexOf('/');
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..].TrimEnd('/');
        if (!BucketName().IsMatch(bucket) || bucket.Contains("..", StringComparison.Ordinal))
            throw new StoreException(StoreError.InvalidArgument,
                $"'{bucket}' in '{location}' is not an S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-'); write s3://bucket or s3://bucket/prefix");
        if (prefix.Length > 0)
        {
            try { StoreKeys.Check(prefix); }
            catch (ArgumentException)
            {
                throw new StoreException(StoreError.InvalidArgument,
                    $"'{prefix}' in '{location}' is not a usable prefix (no empty, '.' or '..' parts, no control characters or '\\')");
            }
        }
        return (bucket, prefix.Length == 0 ? "" : prefix + "/");
    }

    private string NameOf(string key)
    {
        StoreKeys.Check(key);
        return _root + key;
    }

    /// <summary>Called when a HEAD got 404: tells a missing bucket (an error) from a missing key (false).</summary>
    private async Task CheckBucketAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await _client.HeadBucketAsync(new HeadBucketRequest { BucketName = _bucket }, cancellationToken).ConfigureAwait(false);
            _bucketSeen = true;
        }
        catch (Exception e) when (IsFailure(e, cancellationToken))
        {
            throw Failure("check", key, e);
        }
    }

    /// <summary>How long one request may go unanswered (an 8 MiB pack needs ~0.3 MB/s to fit).</summary>
    internal static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>SDK and network failures (the SDK's own timeout is a <see cref="TimeoutException"/>); the caller's own cancellation passes through untouched.</summary>
    private static bool IsFailure(Exception e, CancellationToken cancellationToken) =>
        e is AmazonServiceException or AmazonClientException or HttpRequestException or IOException or WebException or TimeoutException
        || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested); // an HTTP timeout

    private StoreException Failure(string action, string key, Exception e)
    {
        if (e is AmazonS3Exception { ErrorCode: "NoSuchBucket" } || (e is AmazonS3Exception { StatusCode: HttpStatusCode.NotFound } && action == "check"))
            return new StoreException(StoreError.Unavailable, $"cannot {action} {key} in the store '{Location}': bucket {_bucket} does not exist at {_endpoint}", e);
        // The SDK's chain reports each of its four providers' .NET failures in one paragraph; what a user can act on
        // is which variables to set (the SDK gives no type of its own for it: its message is the only sign).
        if (e is AmazonClientException && e.Message.StartsWith("Failed to resolve AWS credentials", StringComparison.Ordinal))
            return new StoreException(StoreError.Unavailable,
                $"cannot {action} {key} in the store '{Location}': no AWS credentials found; set AWS_ACCESS_KEY_ID and " +
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE for a profile in ~/.aws/credentials)", e);
        var detail = e switch
        {
            AmazonS3Exception s3 => $"{s3.ErrorCode ?? ((int)s3.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture)}: {s3.Message}",
            OperationCanceledException or TimeoutException => $"no answer within {RequestTimeout.TotalSeconds:0} s (tried {3} times)",
            _ => Innermost(e).Message,
        };
        return new StoreException(StoreError.Unavailable, $"cannot {action} {key} in the store '{Location}' at {_endpoint}: {OneLine(detail)}", e);
    }

    private static Exception Innermost(Exception e)
    {
        // "connection refused" sits under the SDK's and HttpClient's wrappers; that is the line a user can act on.
        var message = e.Message;
        while (e.InnerException is { } inner) e = inner;
        return e.Message.Length > 0 ? e : new Exception(message);
    }

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketName();
}

/// <summary>Where and as whom an <see cref="S3Backend"/> connects. Null credentials mean the SDK's default chain.</summary>
internal sealed record S3Connection(string? EndpointUrl, string Region, AWSCredentials? Credentials)
{
    public const string DefaultRegion = "us-east-1";

    public static S3Connection FromEnvironment()
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v.Trim() : null;
        var endpoint = Env("AWS_ENDPOINT_URL_S3") ?? Env("AWS_ENDPOINT_URL");
        if (endpoint is not null && !IsHttp(endpoint))
            throw new StoreException(StoreError.InvalidArgument, $"AWS_ENDPOINT_URL '{endpoint}' is not an http:// or https:// URL");
        return new S3Connection(endpoint, Env("AWS_REGION") ?? Env("AWS_DEFAULT_REGION") ?? DefaultRegion, null);
    }

    private static bool IsHttp(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
