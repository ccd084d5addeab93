using System.Buffers.Binary;

namespace XenIac.Core.SaveFiles;

public sealed partial record SaveFileHeader
{
    /// <summary>The exact bytes of the header and optional data (empty for a legacy savefile).</summary>
    public byte[] ToBytes()
    {
        if (Format == SaveFileFormat.Legacy) return [];

        var optLength = OptionalDataLength;
        var bytes = new byte[SaveFileLayout.HeaderLength + optLength];
        var span = bytes.AsSpan();
        SaveFileLayout.Magic.CopyTo(span);
        WriteU32(span[SaveFileLayout.ByteOrderOffset..], SaveFileLayout.ByteOrderValue);
        WriteU32(span[SaveFileLayout.MandatoryFlagsOffset..], MandatoryFlags);
        WriteU32(span[SaveFileLayout.OptionalFlagsOffset..], OptionalFlags);
        WriteU32(span[SaveFileLayout.OptionalDataLengthOffset..], optLength);

        if (_configBytes is not null)
        {
            var opt = span[SaveFileLayout.HeaderLength..];
            WriteU32(opt, (uint)_configBytes.Length);
            _configBytes.CopyTo(opt[SaveFileLayout.ConfigLengthFieldLength..]);
            _extension.CopyTo(opt[(SaveFileLayout.ConfigLengthFieldLength + _configBytes.Length)..]);
        }
        return bytes;
    }

    public void WriteTo(Stream destination) => destination.Write(ToBytes());

    public ValueTask WriteToAsync(Stream destination, CancellationToken cancellationToken = default) =>
        destination.WriteAsync(ToBytes(), cancellationToken);

    private void WriteU32(Span<byte> destination, uint value)
    {
        if (ByteOrder == SaveFileByteOrder.LittleEndian)
            BinaryPrimitives.WriteUInt32LittleEndian(destination, value);
        else
            BinaryPrimitives.WriteUInt32BigEndian(destination, value);
    }
}
