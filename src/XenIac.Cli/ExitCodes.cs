namespace XenIac.Cli;

/// <summary>The exit codes every command keeps to (scripts and CI rely on them).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>Invalid input, a failed operation, or a usage error.</summary>
    public const int Error = 1;
    /// <summary>Only <c>plan --detailed-exitcode</c>: the plan has changes (Terraform's meaning).</summary>
    public const int ChangesPresent = 2;
}
