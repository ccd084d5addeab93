using System.Globalization;
using System.Resources;

namespace XenIac.MSBuild;

/// <summary>Names of the messages in Strings.resx, and the split of "XIAC0003: text" into code and text.</summary>
internal static class Strings
{
    private static readonly ResourceManager Resources = new("XenIac.MSBuild.Strings", typeof(Strings).Assembly);

    public const string HostUnavailable = nameof(HostUnavailable);
    public const string InvalidParameter = nameof(InvalidParameter);
    public const string DomainNotFound = nameof(DomainNotFound);
    public const string DomainExists = nameof(DomainExists);
    public const string SavefileNotFound = nameof(SavefileNotFound);
    public const string SavefileInvalid = nameof(SavefileInvalid);
    public const string ConfigInvalid = nameof(ConfigInvalid);
    public const string HostBusy = nameof(HostBusy);
    public const string OperationFailed = nameof(OperationFailed);
    public const string Cancelled = nameof(Cancelled);
    public const string ManifestInvalid = nameof(ManifestInvalid);
    public const string ApplyFailed = nameof(ApplyFailed);
    public const string DomainInvalidState = nameof(DomainInvalidState);
    public const string FileAccessFailed = nameof(FileAccessFailed);
    public const string ConfigUntrusted = nameof(ConfigUntrusted);
    public const string StoreUnavailable = nameof(StoreUnavailable);
    public const string SnapshotNotFound = nameof(SnapshotNotFound);
    public const string SnapshotDamaged = nameof(SnapshotDamaged);
    public const string StoreKeyInvalid = nameof(StoreKeyInvalid);
    public const string StoreBusy = nameof(StoreBusy);
    public const string SnapshotStale = nameof(SnapshotStale);
    public const string CloneRefused = nameof(CloneRefused);
    public const string SavefileNamesNoDomain = nameof(SavefileNamesNoDomain);

    /// <summary>The code ("XIAC0003") and the formatted text after it.</summary>
    public static (string Code, string Text) Format(string name, params object?[] args)
    {
        var template = Resources.GetString(name, CultureInfo.InvariantCulture)
            ?? throw new InvalidOperationException($"Strings.resx has no message '{name}'.");
        var colon = template.IndexOf(": ", StringComparison.Ordinal);
        if (colon < 0 || !template.StartsWith("XIAC", StringComparison.Ordinal))
            throw new InvalidOperationException($"Message '{name}' does not start with its XIAC code.");
        // Library messages may or may not end with a period; the templates add their own.
        var cleaned = args.Select(a => a is string text ? text.TrimEnd().TrimEnd('.') : a).ToArray();
        return (template[..colon], string.Format(CultureInfo.CurrentCulture, template[(colon + 2)..], cleaned));
    }
}
