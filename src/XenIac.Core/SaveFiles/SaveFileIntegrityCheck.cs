namespace XenIac.Core.SaveFiles;

public enum SaveFileIntegrityStatus
{
    /// <summary>The image's length and digest are those the record states.</summary>
    Match,
    /// <summary>The image differs from what the record states.</summary>
    Mismatch,
    /// <summary>The savefile carries no integrity record (<c>savefile seal</c> adds one).</summary>
    NoRecord,
    /// <summary>The record is present but cannot be read.</summary>
    Malformed,
}

/// <summary>The outcome of an integrity check: what the record states and what the image is.</summary>
/// <param name="Expected">The record, when there is a readable one.</param>
/// <param name="Actual">Length and digest of the image as read.</param>
/// <param name="Problem">One line when the status is not <see cref="SaveFileIntegrityStatus.Match"/>.</param>
public sealed record SaveFileIntegrityResult(SaveFileIntegrityStatus Status, SaveFileIntegrity? Expected, SaveFileIntegrity Actual, string? Problem)
{
    public bool IsValid => Status == SaveFileIntegrityStatus.Match;
}

/// <summary>A running integrity check (see <see cref="SaveFileReader.BeginIntegrityCheck"/>).</summary>
public sealed class SaveFileIntegrityCheck
{
    private readonly SaveFileHeader _header;
    private readonly IntegrityHashingStream _hashing;

    internal SaveFileIntegrityCheck(SaveFileHeader header, IntegrityHashingStream hashing)
    {
        _header = header;
        _hashing = hashing;
    }

    /// <summary>Reads the rest of the image (bytes after the END record count too) and compares with the record.</summary>
    public async Task<SaveFileIntegrityResult> CompleteAsync(CancellationToken cancellationToken = default)
    {
        await _hashing.CopyToAsync(Stream.Null, SaveFileWriter.CopyBufferSize, cancellationToken).ConfigureAwait(false);
        var actual = _hashing.Result();
        if (_header.IntegrityError is { } error)
            return new SaveFileIntegrityResult(SaveFileIntegrityStatus.Malformed, null, actual, $"{error.Message} (at byte {error.Offset})");
        if (_header.Integrity is not { } expected)
            return new SaveFileIntegrityResult(SaveFileIntegrityStatus.NoRecord, null, actual,
                "the savefile carries no integrity record (add one with 'xen-iac savefile seal')");
        if (expected.Equals(actual)) return new SaveFileIntegrityResult(SaveFileIntegrityStatus.Match, expected, actual, null);
        var problem = expected.ImageLength != actual.ImageLength
            ? $"integrity mismatch: the record states {expected.ImageLength} image bytes with sha256 {expected.DigestHex}, the image has {actual.ImageLength} bytes with sha256 {actual.DigestHex}"
            : $"integrity mismatch: expected sha256 {expected.DigestHex}, actual {actual.DigestHex} (over {actual.ImageLength} image bytes)";
        return new SaveFileIntegrityResult(SaveFileIntegrityStatus.Mismatch, expected, actual, problem);
    }
}
