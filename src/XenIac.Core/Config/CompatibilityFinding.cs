namespace XenIac.Core.Config;

/// <summary>One setting that differs between a saved config and the config a restore would use.</summary>
/// <param name="Setting">The setting's name as <see cref="DomainConfig.ToSettings"/> spells it (e.g. <c>disk[0].target</c>).</param>
/// <param name="Old">The saved value; null when the saved config does not set it.</param>
/// <param name="New">The new value; null when the new config does not set it.</param>
public sealed record CompatibilityFinding(FindingSeverity Severity, string Setting, string? Old, string? New, string Reason);
