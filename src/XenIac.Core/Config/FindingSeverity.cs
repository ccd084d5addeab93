namespace XenIac.Core.Config;

public enum FindingSeverity
{
    /// <summary>Changed, and safe to change on restore (a device retargeted, a host-side setting).</summary>
    Ok,
    /// <summary>Changed, and XenIac cannot tell whether the guest will notice.</summary>
    Warning,
    /// <summary>Changed in a way the guest sees: resuming it may crash it.</summary>
    Error,
}
