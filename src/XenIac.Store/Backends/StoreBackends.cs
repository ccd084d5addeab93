namespace XenIac.Store.Backends;

/// <summary>Opens the backend a location string names.</summary>
public static class StoreBackends
{
    public static IStoreBackend Open(string location)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        if (location.Contains("://", StringComparison.Ordinal))
            throw new StoreException(StoreError.InvalidArgument, $"'{location}': a store is a folder path or s3://bucket/prefix");
        return new FolderBackend(location);
    }
}
