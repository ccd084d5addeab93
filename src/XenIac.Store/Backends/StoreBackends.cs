using System.Text.RegularExpressions;

namespace XenIac.Store.Backends;

/// <summary>Opens the backend a location string names, as the user wrote it on the command line or in a manifest.</summary>
public static partial class StoreBackends
{
    public const string SupportedForms = "a folder path or s3://bucket/prefix";

    /// <summary>
    /// <c>s3://bucket/prefix</c> opens an <see cref="S3Backend"/> (endpoint and credentials from the environment);
    /// any other location without a scheme is a folder. Other schemes are refused rather than taken as a folder
    /// literally named "gs:" or "https:".
    /// </summary>
    public static IStoreBackend Open(string location)
    {
        if (string.IsNullOrWhiteSpace(location))
            throw new StoreException(StoreError.InvalidArgument, $"no store location given; give {SupportedForms}");
        // "-" is standard input or output everywhere else on the command line; as a store it made a folder named "-".
        if (location == "-")
            throw new StoreException(StoreError.InvalidArgument, $"'-' is not a store (a store is not read from standard input); give {SupportedForms}");
        if (location.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
            return new S3Backend(location);
        if (Scheme().Match(location) is { Success: true } match)
            throw new StoreException(StoreError.InvalidArgument,
                $"'{location}' uses {match.Groups[1].Value}://, which the store does not support; give {SupportedForms}");
        return new FolderBackend(location);
    }

    [GeneratedRegex("^([A-Za-z][A-Za-z0-9+.-]*)://")]
    private static partial Regex Scheme();
}
