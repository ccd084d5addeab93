namespace XenIac.Store.Backends;

/// <summary>The key space every backend shares; keys never come from the user unchecked.</summary>
internal static class StoreKeys
{
    public const string StoreFile = "xeniac-store.json";
    public const string Packs = "packs/";
    public const string Recipes = "recipes/";
    public const string Snapshots = "snapshots/";
    public const string Locks = "locks/";

    /// <summary>A pack's key: fanned out by its first two hex digits so no folder grows huge.</summary>
    public static string Pack(string id) => $"{Packs}{id[..2]}/{id}";

    /// <summary>A recipe part's key, named by its chunk name (content-addressed: identical parts are stored once).</summary>
    public static string Recipe(string name) => $"{Recipes}{name}";

    public static string Snapshot(string id) => $"{Snapshots}{id}.json";

    public static string Lock(string id) => $"{Locks}{id}.json";

    /// <summary>Refuses keys that could leave the store (absolute, "..", empty segments, control characters).</summary>
    public static void Check(string key)
    {
        if (string.IsNullOrEmpty(key) || key.StartsWith('/') || key.EndsWith('/') || key.Contains("//", StringComparison.Ordinal)
            || key.Split('/').Any(s => s is "." or "..") || key.Any(char.IsControl) || key.Contains('\\'))
            throw new ArgumentException($"'{key}' is not a valid store key", nameof(key));
    }
}
