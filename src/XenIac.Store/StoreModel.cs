using System.Text.Json;
using System.Text.Json.Serialization;

namespace XenIac.Store;

/// <summary>
/// <c>xeniac-store.json</c>: how a store cuts, names, compresses and encrypts chunks, fixed at its first push so
/// every writer agrees.
/// </summary>
public sealed record StoreSettings
{
    public const int CurrentFormat = 1;

    public int Format { get; init; } = CurrentFormat;

    /// <summary>Guest pages per chunk window (a power of two).</summary>
    public int ChunkPages { get; init; } = 16;

    /// <summary><c>blake3</c>, or <c>blake3-keyed</c> when encrypted.</summary>
    public string Digest { get; init; } = "blake3";

    public string Compression { get; init; } = "zstd-1";

    /// <summary>Null, or <c>aes-256-gcm</c>.</summary>
    public string? Encryption { get; init; }

    /// <summary>Derived from the key (never the key), so a wrong key is named as such.</summary>
    public string? KeyCheck { get; init; }
}

/// <summary>A snapshot: one savefile, as the ordered list of chunks whose concatenation is its bytes.</summary>
public sealed record SnapshotManifest
{
    public int Format { get; init; } = StoreSettings.CurrentFormat;

    public required string Id { get; init; }

    /// <summary>Null for an untagged snapshot; a tag names a series (<c>web@nightly</c>) whose newest member it resolves to.</summary>
    public string? Tag { get; init; }

    public required DateTimeOffset Created { get; init; }

    /// <summary>Size of the savefile in bytes.</summary>
    public required long Bytes { get; init; }

    /// <summary>SHA-256 of the whole savefile (what <c>sha256sum</c> prints), checked on every pull.</summary>
    public required string Sha256 { get; init; }

    /// <summary>Number of chunks the savefile is made of (with repeats).</summary>
    public required long Chunks { get; init; }

    /// <summary>The recipe: chunks holding the ordered chunk list, in order.</summary>
    public required IReadOnlyList<RecipePart> Recipe { get; init; }

    /// <summary>File name the savefile was pushed from (informative).</summary>
    public string? Source { get; init; }

    /// <summary>Domain name from the stored config, when it has one (informative).</summary>
    public string? Domain { get; init; }

    /// <summary>
    /// SHA-256 of this manifest as written without its seal: a manifest damaged after the push (its savefile digest
    /// included, which only a whole pull would otherwise catch) fails every read of it, <c>store verify</c> first.
    /// Null in manifests written before it existed, which are read as they always were.
    /// </summary>
    public string? Seal { get; init; }

    /// <summary>The seal this manifest's other fields call for.</summary>
    internal string ComputeSeal() => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
        JsonSerializer.SerializeToUtf8Bytes(this with { Seal = null }, StoreJson.Default.SnapshotManifest)));
}

public sealed record RecipePart(string Chunk, int Bytes);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(StoreSettings))]
[JsonSerializable(typeof(SnapshotManifest))]
[JsonSerializable(typeof(StoreLockRecord))]
internal sealed partial class StoreJson : JsonSerializerContext
{
    /// <summary>Parses a store object, naming it when it is not what it should be.</summary>
    public static T Parse<T>(byte[] data, string key, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(data, type) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new StoreException(StoreError.Damaged, $"{key} is not valid: {Core.IO.JsonProblems.Describe(e)}", e);
        }
    }
}

/// <summary>A lock object: who holds it, and since when it was last refreshed.</summary>
internal sealed record StoreLockRecord(string Kind, string Host, int Pid, DateTimeOffset Created, DateTimeOffset Refreshed);
