using XenIac.Core;

namespace XenIac.Reconciler.Manifests;

public sealed record ManifestError(SourceLocation Location, string Message)
{
    public override string ToString() => $"{Location}: {Message}";
}

/// <summary>The manifest is invalid; <see cref="Errors"/> lists every problem found, each with its place.</summary>
public sealed class ManifestException : XenIacException
{
    public ManifestException(IReadOnlyList<ManifestError> errors)
        : base(errors.Count == 1 ? errors[0].ToString() : $"{errors[0]} (and {errors.Count - 1} more)") => Errors = errors;

    public IReadOnlyList<ManifestError> Errors { get; }

    /// <summary>The manifest file itself does not exist (a front end may say how to make one).</summary>
    public bool ManifestMissing { get; init; }
}
