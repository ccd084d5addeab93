using System.Security.Cryptography;
using System.Text;

namespace XenIac.Store;

/// <summary>
/// The secret of an encrypted store, read from a key file the user keeps outside the store. Two keys are derived
/// from it: one names chunks (an HMAC, so chunk names say nothing about guest memory to whoever can list the
/// bucket) and one encrypts them (AES-256-GCM). Only a check value derived from it is written to the store.
/// </summary>
public sealed class StoreKey
{
    private const int SecretLength = 32;

    private StoreKey(byte[] secret)
    {
        // 32 random bytes hold about 30 different values; fewer than 8 is a key someone typed (all zeros, "aaaa…").
        IsWeak = secret.Distinct().Count() < 8;
        NameKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, info: "xeniac-store chunk names"u8.ToArray());
        EncryptionKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, info: "xeniac-store chunk encryption"u8.ToArray());
        Check = Convert.ToHexStringLower(HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 16, info: "xeniac-store key check"u8.ToArray()));
    }

    internal byte[] NameKey { get; }

    internal byte[] EncryptionKey { get; }

    /// <summary>Too regular to be random (all zeros, a repeated byte): a new store refuses it; an existing one still opens with it.</summary>
    public bool IsWeak { get; }

    /// <summary>Stored in the store's settings so a wrong key is named as such instead of as damaged chunks.</summary>
    public string Check { get; }

    /// <summary>
    /// Reads a key file: 32 random bytes, as raw bytes, 64 hex digits or base64 (surrounding whitespace ignored).
    /// </summary>
    public static StoreKey Load(string path)
    {
        byte[] content;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new StoreException(StoreError.Key, $"key file '{path}' does not exist (create one with: xen-iac store keygen {path})");
            if (info.Length > 4096) throw new StoreException(StoreError.Key, $"key file '{path}' is {info.Length} bytes; a key file holds 32 bytes (raw, hex or base64)");
            content = Core.IO.SmallFile.ReadAllBytes(path, 4096);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreException(StoreError.Key, $"cannot read key file '{path}': {e.Message}", e);
        }
        return new StoreKey(Parse(content, path));
    }

    /// <summary>Writes a new random key file with mode 0600; refuses to replace an existing one (that would orphan a store).</summary>
    public static void Generate(string path)
    {
        var text = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SecretLength)) + "\n";
        if (Directory.Exists(path))
            throw new StoreException(StoreError.Key, $"'{path}' is a folder; give the path of a new key file (e.g. {Path.Combine(path, "store.key")})");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using var file = new FileStream(path, options);
            file.Write(Encoding.ASCII.GetBytes(text));
            file.Flush(flushToDisk: true);
        }
        catch (IOException e) when (File.Exists(path))
        {
            throw new StoreException(StoreError.Key, $"'{path}' already exists; a new key would make the snapshots encrypted with the old one unreadable", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreException(StoreError.Key, $"cannot write key file '{path}': {e.Message}", e);
        }
    }

    internal static StoreKey FromSecret(byte[] secret) => new(secret);

    private static byte[] Parse(byte[] content, string path)
    {
        if (content.Length == SecretLength) return content;
        var text = Encoding.ASCII.GetString(content).Trim();
        if (text.Length == 2 * SecretLength && text.All(Uri.IsHexDigit)) return Convert.FromHexString(text);
        try
        {
            var bytes = Convert.FromBase64String(text);
            if (bytes.Length == SecretLength) return bytes;
        }
        catch (FormatException) { }
        throw new StoreException(StoreError.Key, $"key file '{path}' does not hold a 32-byte key (raw, 64 hex digits or base64)");
    }
}
