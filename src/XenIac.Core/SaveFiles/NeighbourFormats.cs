using System.Text;

namespace XenIac.Core.SaveFiles;

/// <summary>
/// Recognises the files people most often hand to a savefile reader by mistake, so that a wrong magic number
/// produces a message that says what the file is instead of just "not a savefile".
/// </summary>
internal static class NeighbourFormats
{
    private static readonly (string Magic, string Description)[] Known =
    [
        ("libvirt-xml\n \0 \r", "a libvirt libxl-driver save image ('libvirt-xml' header); restore it with virsh restore"),
        ("LibvirtQemudSave", "a libvirt QEMU/KVM save image ('LibvirtQemudSave'), not a Xen savefile"),
        ("LibvirtQemudPart", "a partially written libvirt QEMU/KVM save image ('LibvirtQemudPart'), not a Xen savefile"),
        ("XenSavedDomv2-", "a XAPI (XenServer/XCP-ng) suspend image ('XenSavedDomv2-'); restore it with xe, not xl"),
        ("LinuxGuestRecord", "an xm/xend save image ('LinuxGuestRecord'); xl cannot restore it"),
        ("LibxlFmt", "a bare libxl migration stream v2 without the xl header; read it as a legacy, configless savefile (xen-iac's --legacy) or convert it with a config"),
    ];

    public static string DescribeWrongMagic(ReadOnlySpan<byte> start)
    {
        if (start.IsEmpty)
            return "the file is empty: expected an xl savefile header (\"Xen saved domain, xl format\")";

        foreach (var (magic, description) in Known)
        {
            var bytes = Encoding.ASCII.GetBytes(magic);
            if (start.StartsWith(bytes))
                return $"not an xl savefile: this is {description}";
        }

        return "not an xl savefile: wrong magic number (expected \"Xen saved domain, xl format\" at offset 0, found " +
               $"\"{Printable(start[..Math.Min(start.Length, 16)])}\"); if it is an old configless savefile " +
               "(the whole file is the image stream), read it as one (xen-iac's --legacy) and supply its config";
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
            sb.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
        return sb.ToString();
    }
}
