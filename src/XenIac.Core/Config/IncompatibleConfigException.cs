namespace XenIac.Core.Config;

/// <summary>A config was refused because restoring the saved guest with it could crash the guest.</summary>
public sealed class IncompatibleConfigException : XenIacException
{
    public IncompatibleConfigException(string message, IReadOnlyList<CompatibilityFinding> findings) : base(message) => Findings = findings;

    public IReadOnlyList<CompatibilityFinding> Findings { get; }
}
